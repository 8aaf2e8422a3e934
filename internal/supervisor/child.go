package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"time"
)

// outputDrain bounds the wait for the child's output after it exited: a
// grandchild outside its process group may hold the pipes open.
const outputDrain = 2 * time.Second

// maxLine is the longest output line passed through whole; longer lines
// are passed through in pieces of this size, each with the prefix.
const maxLine = 64 << 10

// child is one run of the supervised program, in its own process group.
type child struct {
	cmd  *exec.Cmd
	pid  int
	done chan struct{} // closed when it has been waited for and its output copied
	err  error         // Wait's error, set before done closes
}

// startChild starts the program with its output copied, prefixed, to
// o.Stdout and o.Stderr.
func startChild(o Options, log *slog.Logger) (*child, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	cmd := exec.Command(o.Command, o.Args...)
	cmd.Env = o.Env
	cmd.Dir = o.Dir
	cmd.Stdin = nil // /dev/null
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	// The child has its own copies of the write ends now.
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("start %s: %w", o.Command, err)
	}
	c := &child{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	prefix := fmt.Sprintf("[%s pid=%d] ", o.Name, c.pid)
	var copies sync.WaitGroup
	for _, p := range []struct {
		r *os.File
		w io.Writer
	}{{outR, o.Stdout}, {errR, o.Stderr}} {
		copies.Add(1)
		go func() {
			defer copies.Done()
			copyLines(p.w, p.r, prefix)
		}()
	}
	go func() {
		c.err = cmd.Wait()
		// Whatever is left of its process group goes with it, so no
		// grandchild outlives the child it belongs to.
		killGroup(c.pid)
		copied := make(chan struct{})
		go func() { copies.Wait(); close(copied) }()
		select {
		case <-copied:
		case <-time.After(outputDrain):
			log.Warn("child output still open after it exited; closing it", "pid", c.pid)
		}
		outR.Close() // unblocks a copy still reading
		errR.Close()
		<-copied
		close(c.done)
	}()
	return c, nil
}

// stop ends the child: SIGTERM to its process group, then SIGKILL after
// timeout. It returns when the child has been waited for.
func (c *child) stop(timeout time.Duration, log *slog.Logger) {
	select {
	case <-c.done:
		return
	default:
	}
	if err := terminateGroup(c.pid); err != nil {
		log.Warn("cannot signal the child", "pid", c.pid, "error", err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		log.Warn("the child did not stop in time; killing it", "pid", c.pid, "stop_timeout", timeout.String())
		killGroup(c.pid)
		<-c.done
	}
}

// exitStatus describes how the child ended; call after done.
func (c *child) exitStatus(reason string, at time.Time) *ExitStatus {
	ex := &ExitStatus{PID: c.pid, Status: -1, Reason: reason, At: at.UTC()}
	ps := c.cmd.ProcessState
	if ps == nil {
		if c.err != nil {
			ex.Error = c.err.Error()
		}
		return ex
	}
	ex.Status = ps.ExitCode()
	ex.Signal = exitSignal(ps)
	var ee *exec.ExitError
	if c.err != nil && !errors.As(c.err, &ee) {
		ex.Error = c.err.Error()
	}
	return ex
}

// copyLines copies r to w line by line, each line (or piece of a line
// longer than maxLine) written whole with prefix in front, until r ends.
func copyLines(w io.Writer, r io.Reader, prefix string) {
	br := bufio.NewReaderSize(r, maxLine)
	buf := make([]byte, 0, maxLine+len(prefix)+1)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			buf = append(append(buf[:0], prefix...), line...)
			if buf[len(buf)-1] != '\n' {
				buf = append(buf, '\n')
			}
			if _, werr := w.Write(buf); werr != nil {
				// Keep reading so the child never blocks on a full pipe.
				_, _ = io.Copy(io.Discard, br)
				return
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}
