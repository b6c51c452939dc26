package plugin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creack/pty"
	"github.com/docker/cli/cli/command"
	"github.com/moby/buildkit/util/progress/progressui"
)

func TestPlatformFile(t *testing.T) {
	for _, tc := range []struct {
		path string
		n    int
		want string
	}{
		{"out/app.spdx.json", 1, "out/app.spdx.json"},
		{"out/app.spdx.json", 2, "out/app.linux-arm64.spdx.json"},
		{"report", 2, "report.linux-arm64"},
	} {
		if got := platformFile(tc.path, "linux/arm64", tc.n); got != tc.want {
			t.Errorf("platformFile(%q, %d) = %q, want %q", tc.path, tc.n, got, tc.want)
		}
	}
}

// TestBuildRefusesPlantedIIDFile: --iidfile and --metadata-file, written
// after the export, are checked before anything is built.
func TestBuildRefusesPlantedIIDFile(t *testing.T) {
	link := filepath.Join(t.TempDir(), "iid")
	if err := os.Symlink("/etc/passwd", link); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []buildOptions{{iidFile: link}, {metadataFile: link}} {
		if err := checkScanFlags(opts); err == nil || !strings.Contains(err.Error(), link+": is a symbolic link") {
			t.Errorf("%+v: %v, want the link refused before the build", opts, err)
		}
	}
}

// TestDisplayMode: --progress and --quiet read as docker buildx build reads
// them.
func TestDisplayMode(t *testing.T) {
	for _, tc := range []struct {
		progress, env string
		quiet         bool
		want          progressui.DisplayMode
		printImageID  bool
		err           string
	}{
		{progress: "auto", want: progressui.AutoMode},
		{progress: "auto", env: "plain", want: progressui.PlainMode},
		{progress: "tty", env: "plain", want: progressui.TtyMode},
		{progress: "quiet", want: progressui.QuietMode, printImageID: true},
		{progress: "auto", quiet: true, want: progressui.QuietMode, printImageID: true},
		{progress: "auto", env: "plain", quiet: true, want: progressui.QuietMode, printImageID: true},
		{progress: "none", want: progressui.QuietMode},
		{progress: "none", quiet: true, want: progressui.QuietMode, printImageID: true},
		{progress: "plain", quiet: true, err: "--progress plain and --quiet cannot be used together"},
		{progress: "fancy", err: `--progress "fancy": want auto, none, plain, quiet, rawjson or tty`},
		{progress: "auto", env: "fancy", err: `BUILDKIT_PROGRESS="fancy": want auto, plain, quiet, rawjson or tty`},
	} {
		t.Setenv("BUILDKIT_PROGRESS", tc.env)
		mode, printImageID, err := buildOptions{progress: tc.progress, quiet: tc.quiet}.displayMode()
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%+v: %v, want %q", tc, err, tc.err)
			}
			continue
		}
		if err != nil || mode != tc.want || printImageID != tc.printImageID {
			t.Errorf("%+v: %q, %v, %v; want %q, %v", tc, mode, printImageID, err, tc.want, tc.printImageID)
		}
	}
}

// TestProgressOutputIsTheTerminal: BuildKit's TTY display finds the
// terminal behind the CLI's standard error.
func TestProgressOutputIsTheTerminal(t *testing.T) {
	terminal, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer terminal.Close()
	defer tty.Close()
	dockerCli, err := command.NewDockerCli(command.WithErrorStream(tty))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := progressui.NewDisplay(progressOutput(dockerCli), progressui.TtyMode); err != nil {
		t.Errorf("--progress tty on a terminal: %v", err)
	}
}
