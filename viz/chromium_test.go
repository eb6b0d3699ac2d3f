package viz

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synod-sim/synod/sim"
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
			if err != nil {
				// Headless Chromium now and then dies on a loaded machine:
				// once more before calling it a failure.
				out, err = exec.CommandContext(ctx, browser, append(args, "--dump-dom", "file://"+html)...).Output()
			}
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

// poke drives the page as a person would, from a script appended to it:
// hover a delivery, click it, zoom in, step down a row. Each result lands
// on the body, for the test to read from the DOM.
const poke = `<script>
(function () {
  function say(k, v) { document.body.setAttribute("data-" + k, String(v)); }
  try {
    var info = document.getElementById("pinfo");
    var el = document.querySelector('#marks [data-line="LINE"]');
    el.dispatchEvent(new MouseEvent("mousemove", { bubbles: true, clientX: 5, clientY: 5 }));
    say("hover", info.textContent.indexOf("TEXT") >= 0 && info.textContent.indexOf("pinned") < 0);
    var me = info.querySelector(".st.me");
    say("hover-state", !!me && me.textContent.indexOf("n2: follower promised=1.0 leader=n0") >= 0);
    say("hot", document.querySelectorAll(".hot").length);
    el.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    say("pinned", info.textContent.indexOf("pinned") >= 0 && info.textContent.indexOf("TEXT") >= 0);
    say("hash", location.hash);
    var before = document.getElementById("dia").getAttribute("width");
    document.getElementById("zin").click();
    say("zoomed", document.getElementById("dia").getAttribute("width") > +before);
    document.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", bubbles: true }));
    say("stepped", location.hash);
  } catch (e) { say("poke-error", e.message); }
})();
</script>
</body>`

// Hover, click, zoom and step work in a real browser, and the hover shows
// the node's state from the replay.
func TestDiagramInteractionInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no browser")
	}
	browser := chromium(t)
	f := readTrace(t, "testdata/skip-phase1.shrunk.trace")
	line := -1
	for i, l := range f.Lines {
		if l.Text == "deliver n0->n2 heartbeat b=1.0 commit=0" {
			line = i
		}
	}
	require.GreaterOrEqual(t, line, 0)
	replayed := make([]sim.Line, len(f.Lines))
	copy(replayed, f.Lines)
	replayed[line].State = "n2: follower promised=1.0 leader=n0"
	page, err := Diagram(f, replayed, Options{})
	require.NoError(t, err)
	s := strings.Replace(string(page), "</body>", strings.NewReplacer("LINE", strconv.Itoa(line), "TEXT", f.Lines[line].Text).Replace(poke), 1)
	dir := t.TempDir()
	html := filepath.Join(dir, "page.html")
	require.NoError(t, os.WriteFile(html, []byte(s), 0o644))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--user-data-dir=" + filepath.Join(dir, "profile"),
		"--window-size=1280,800", "--dump-dom", "file://" + html}
	out, err := exec.CommandContext(ctx, browser, args...).Output()
	if err != nil {
		out, err = exec.CommandContext(ctx, browser, args...).Output()
	}
	require.NoError(t, err)
	body := reBody.FindString(string(out))
	require.NotContains(t, body, "poke-error")
	require.NotContains(t, body, "data-js-error")
	for _, want := range []string{`data-hover="true"`, `data-hover-state="true"`, `data-pinned="true"`, `data-zoomed="true"`} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, `data-hot="0"`, "hovering lights the message up")
	first := 1 + len(f.Header) + 1 + 1
	require.Contains(t, body, fmt.Sprintf(`data-hash="#L%d"`, first+line), "a pin names its line in the address")
	require.NotContains(t, body, fmt.Sprintf(`data-stepped="#L%d"`, first+line), "the arrow key moves the pin")
	require.Contains(t, body, `data-stepped="#L`)
}
