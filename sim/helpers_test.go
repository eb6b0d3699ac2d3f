package sim

import (
	"io"
	"strings"
)

type stringsBuilder struct{ strings.Builder }

func (s *stringsBuilder) reader() io.Reader { return strings.NewReader(s.String()) }
