package viz

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// chromium finds a headless-capable browser on the PATH.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on the PATH: the diagrams are not rendered in a browser")
	return ""
}

var reBody = regexp.MustCompile(`<body[^>]*>`)

// Every testdata trace's diagram opens in headless Chromium at 1280x800:
// the script runs without an error and the violation's marks are in the
// first view, at the default zoom, without scrolling by hand. With
// SYNOD_VIZ_SHOTS=DIR it also leaves a screenshot of each there.
func TestDiagramsInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no browser")
	}
	browser := chromium(t)
	files, err := filepath.Glob("testdata/*.trace")
	require.NoError(t, err)
	shots := os.Getenv("SYNOD_VIZ_SHOTS")
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			f := readTrace(t, path)
			page, err := Diagram(f, nil, Options{Source: filepath.Base(path)})
			require.NoError(t, err)
			dir := t.TempDir()
			html := filepath.Join(dir, "page.html")
			require.NoError(t, os.WriteFile(html, page, 0o644))
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			args := []string{"--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--hide-scrollbars",
				"--user-data-dir=" + filepath.Join(dir, "profile"), "--window-size=1280,800"}
			out, err := exec.CommandContext(ctx, browser, append(args, "--dump-dom", "file://"+html)...).Output()
			require.NoError(t, err)
			body := reBody.FindString(string(out))
			require.Contains(t, body, `data-ready="yes"`, "the page's script ran to its end")
			require.NotContains(t, body, "data-js-error")
			if _, ok := f.Get("violation"); ok {
				require.Contains(t, body, `data-viol-visible="yes"`, "the violation is in the first view")
			}
			if shots != "" {
				png := filepath.Join(shots, strings.TrimSuffix(filepath.Base(path), ".trace")+".png")
				require.NoError(t, exec.CommandContext(ctx, browser, append(args, "--screenshot="+png, "file://"+html)...).Run())
			}
		})
	}
}
