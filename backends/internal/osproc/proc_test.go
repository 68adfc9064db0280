package osproc

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugbench/plugbench/backends"
)

func TestDescribe(t *testing.T) {
	for _, c := range []struct {
		script, want string
	}{
		{"exit 3", "exit status 3"},
		{"kill -SEGV $$", "killed by SIGSEGV (segmentation fault)"},
		{"kill -KILL $$", "killed by SIGKILL (killed)"},
	} {
		cmd := exec.Command("/bin/sh", "-c", c.script)
		cmd.Run()
		if got := Describe(cmd.ProcessState); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: %q, want %q", c.script, got, c.want)
		}
	}
	if got := Describe(nil); got != "still running" {
		t.Errorf("nil: %q", got)
	}
}

func TestExited(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "exit 2")
	cmd.Run()
	err := Exited(cmd.ProcessState, "fatal error: out of memory", true)
	if !errors.Is(err, ErrExited) || !errors.Is(err, backends.ErrMemoryLimit) || err.Error() != "plugin process exited: exit status 2 (fatal error: out of memory): memory limit reached" {
		t.Errorf("%v", err)
	}
	if err := Exited(cmd.ProcessState, "", false); errors.Is(err, backends.ErrMemoryLimit) || err.Error() != "plugin process exited: exit status 2" {
		t.Errorf("%v", err)
	}
}

func TestStartError(t *testing.T) {
	d := t.TempDir()
	text := filepath.Join(d, "text")
	os.WriteFile(text, []byte("text"), 0o644)
	bin := filepath.Join(d, "bin")
	os.WriteFile(bin, []byte("\x00\x01not an executable"), 0o755)
	for _, c := range []struct {
		path string
		is   error
	}{{filepath.Join(d, "nope"), fs.ErrNotExist}, {text, fs.ErrPermission}, {bin, backends.ErrFormat}} {
		err := StartError(exec.Command(c.path).Start())
		if !errors.Is(err, c.is) {
			t.Errorf("%s: %v, want %v", c.path, err, c.is)
		}
	}
}

// TestLimitData caps a running shell, which then reports its limit.
func TestLimitData(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "read x; ulimit -d")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := LimitData(cmd.Process.Pid, 64<<20); err != nil {
		t.Error(err)
	}
	in.Write([]byte("go\n"))
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != "65536" {
		t.Errorf("the shell's data limit: %q KiB, want 65536", got)
	}
}

func TestExecutable(t *testing.T) {
	dir := t.TempDir()
	if _, err := Executable(dir); !errors.Is(err, backends.ErrFormat) || !strings.Contains(err.Error(), "a directory") {
		t.Errorf("a folder: %v, want ErrFormat naming a directory", err)
	}
	if _, err := Executable(filepath.Join(dir, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v, want fs.ErrNotExist", err)
	}
	f := filepath.Join(dir, "plugin")
	if err := os.WriteFile(f, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if abs, err := Executable("plugin"); err != nil || abs != f {
		t.Errorf("a relative path: %q, %v; want %q", abs, err, f)
	}
}
