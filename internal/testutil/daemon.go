package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// daemon is a background process of the harness with its log file.
type daemon struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan error // receives Wait's result once; put back for the next reader
}

// startDaemon starts a long-running process whose output goes to logPath.
func startDaemon(name, logPath string, env []string, path string, args ...string) (*daemon, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, log: logPath, exited: make(chan error, 1)}
	go func() { d.exited <- cmd.Wait() }()
	return d, nil
}

// running reports whether the process has not exited (and its error if it has).
func (d *daemon) running() (bool, error) {
	select {
	case err := <-d.exited:
		d.exited <- err
		return false, err
	default:
		return true, nil
	}
}

// stop sends SIGTERM and waits up to timeout before killing the process; it
// returns what happened when it had to kill it.
func (d *daemon) stop(timeout time.Duration) string {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.exited:
		d.exited <- err
		return ""
	case <-time.After(timeout):
		_ = d.cmd.Process.Kill()
		d.exited <- <-d.exited
		return fmt.Sprintf("%s did not stop on SIGTERM in %s; killed it", d.name, timeout)
	}
}

// tail is the end of the daemon's log, for failure messages.
func (d *daemon) tail(lines int) string {
	b, _ := os.ReadFile(d.log)
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// waitReady calls ready until it returns nil; it fails when the daemon exits
// first or the timeout passes, with ready's last error and the log's end.
func (d *daemon) waitReady(timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if ok, exitErr := d.running(); !ok {
			return fmt.Errorf("%s exited before it was ready: %v\nlog:\n%s", d.name, exitErr, d.tail(60))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %v\nlog:\n%s", d.name, timeout, err, d.tail(60))
		}
		time.Sleep(250 * time.Millisecond)
	}
}
