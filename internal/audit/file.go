package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spacetime-vr/spacetime/internal/config"
)

// DefaultFilePattern names the audit log when the configuration names
// none; FileName replaces {env} with the environment.
const DefaultFilePattern = "audit_{env}.log"

// FileName returns pattern with every "{env}" replaced by env:
// FileName("audit_{env}.log", "production") is "audit_production.log".
func FileName(pattern, env string) string {
	return strings.ReplaceAll(pattern, "{env}", env)
}

// FileOptions configure a FileSink.
type FileOptions struct {
	// Dir holds the log and its backups; it is created (0700) if missing.
	Dir string
	// Name is the log's plain file name ("audit_production.log"); backups
	// are Name.1 (newest) to Name.<MaxBackups>.
	Name string
	// MaxBytes rotates the log before a write would take it past this
	// size; a single record longer than MaxBytes gets a file of its own.
	// 0 never rotates.
	MaxBytes int64
	// MaxBackups is how many rotated files are kept; the oldest is deleted
	// at rotation. Values below 1 keep 1, so a rotation never deletes the
	// records it just rotated out.
	MaxBackups int
	// MaxAge removes backups last modified longer ago than this, checked at
	// open and at each rotation (0 keeps them). The current file is never
	// removed.
	MaxAge time.Duration
	// SyncInterval fsyncs the log after a write when at least this long has
	// passed since the last fsync. 0 fsyncs only at rotation and Close.
	SyncInterval time.Duration
	// Now is the clock for SyncInterval and MaxAge (time.Now).
	Now func() time.Time
	// Logger receives rotation and repair reports (discarded if nil).
	Logger *slog.Logger
}

// FileOptionsFromConfig returns the FileOptions of c: the log in
// logging.directory named by security.audit.file (DefaultFilePattern if
// empty, {env} expanded), rotated at logging.rotation.max_size_mb, keeping
// logging.rotation.max_backups backups for security.audit.retention_days,
// fsynced every second.
func FileOptionsFromConfig(c *config.Config) FileOptions {
	name := c.Security.Audit.File
	if name == "" {
		name = DefaultFilePattern
	}
	return FileOptions{
		Dir:          c.Logging.Directory,
		Name:         FileName(name, c.Environment),
		MaxBytes:     int64(c.Logging.Rotation.MaxSizeMB) << 20,
		MaxBackups:   c.Logging.Rotation.MaxBackups,
		MaxAge:       time.Duration(c.Security.Audit.RetentionDays) * 24 * time.Hour,
		SyncInterval: time.Second,
	}
}

// FileSink writes records as JSON lines to one file, mode 0600, rotating it
// by size. It is a Sink and a Querier.
//
// Concurrency: Write, Sync and Close are meant for the Logger's writer
// goroutine (they are safe for concurrent use, serialized by a mutex);
// Query may run concurrently with them and holds the mutex only while it
// opens the files, so a query never sees a half-written batch or a file
// mid-rotation, and never holds up the writer for long.
type FileSink struct {
	path       string
	maxBytes   int64
	maxBackups int
	maxAge     time.Duration
	syncEvery  time.Duration
	now        func() time.Time
	log        *slog.Logger

	malformed   atomic.Uint64
	encodeFails atomic.Uint64

	mu       sync.Mutex
	f        *os.File // nil after a failed reopen, or closed
	size     int64
	closed   bool
	lastSync time.Time
	buf      []byte       // the batch being written
	line     bytes.Buffer // one encoded record
	enc      *json.Encoder
}

var (
	_ Sink    = (*FileSink)(nil)
	_ Querier = (*FileSink)(nil)
)

// OpenFile creates the directory if needed (0700) and opens or creates the
// log (0600; an existing log with wider permissions is narrowed to 0600).
// If the log ends in a partial line (a crash mid-write), a newline is
// appended so the next record starts a line of its own.
func OpenFile(opts FileOptions) (*FileSink, error) {
	if opts.Name == "" || opts.Name != filepath.Base(opts.Name) || opts.Name == "." || opts.Name == ".." {
		return nil, fmt.Errorf("audit: open file: %q is not a plain file name", opts.Name)
	}
	if opts.MaxBytes < 0 {
		return nil, fmt.Errorf("audit: open file: negative max size %d", opts.MaxBytes)
	}
	if opts.Dir == "" {
		opts.Dir = "."
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: create log directory: %w", err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &FileSink{
		path:       filepath.Join(opts.Dir, opts.Name),
		maxBytes:   opts.MaxBytes,
		maxBackups: max(opts.MaxBackups, 1),
		maxAge:     opts.MaxAge,
		syncEvery:  opts.SyncInterval,
		now:        opts.Now,
		log:        log.With("component", "audit"),
	}
	s.enc = json.NewEncoder(&s.line)
	if err := s.open(); err != nil {
		return nil, err
	}
	s.prune()
	return s, nil
}

// Path returns the current log file's path.
func (s *FileSink) Path() string { return s.path }

// String names the sink in Logger reports.
func (s *FileSink) String() string { return "file " + s.path }

// Malformed returns how many unreadable lines queries have skipped.
func (s *FileSink) Malformed() uint64 { return s.malformed.Load() }

// EncodeFailures returns how many records could not be encoded and were
// skipped (none can be, once a Logger has normalized them).
func (s *FileSink) EncodeFailures() uint64 { return s.encodeFails.Load() }

// backup returns the path of backup i (0 is the current file).
func (s *FileSink) backup(i int) string {
	if i == 0 {
		return s.path
	}
	return s.path + "." + strconv.Itoa(i)
}

// open opens or creates the current file. Caller holds mu (or owns s).
func (s *FileSink) open() error {
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: open %s: %w", s.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit: stat %s: %w", s.path, err)
	}
	if fi.Mode().Perm() != 0o600 {
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return fmt.Errorf("audit: chmod %s: %w", s.path, err)
		}
	}
	size := fi.Size()
	if size > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err != nil {
			f.Close()
			return fmt.Errorf("audit: read %s: %w", s.path, err)
		}
		if last[0] != '\n' {
			if _, err := f.Write([]byte{'\n'}); err != nil {
				f.Close()
				return fmt.Errorf("audit: repair %s: %w", s.path, err)
			}
			size++
			s.log.Warn("audit log ended in a partial line; closed it", "file", s.path)
		}
	}
	s.f, s.size, s.lastSync = f, size, s.now()
	return nil
}

// Write appends recs, one JSON line each, rotating first whenever the next
// line would take the file past MaxBytes. Lines of one batch between two
// rotations are written with one write call; if it fails the file is
// truncated back, and the error is a *PartialError counting the records
// stored before it. ctx is not consulted: local writes are short.
func (s *FileSink) Write(_ context.Context, recs []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	stored := 0
	s.buf = s.buf[:0]
	for i := range recs {
		s.line.Reset()
		if err := s.enc.Encode(&recs[i]); err != nil {
			s.encodeFails.Add(1)
			s.log.Error("audit record not encodable: skipped", "request_id", recs[i].RequestID, "err", err)
			continue
		}
		pending := s.size + int64(len(s.buf))
		if s.maxBytes > 0 && pending > 0 && pending+int64(s.line.Len()) > s.maxBytes {
			if err := s.flush(); err != nil {
				return partial(stored, err)
			}
			stored = i
			if err := s.rotate(); err != nil {
				return partial(stored, err)
			}
		}
		s.buf = append(s.buf, s.line.Bytes()...)
	}
	if err := s.flush(); err != nil {
		return partial(stored, err)
	}
	if s.syncEvery > 0 {
		if now := s.now(); now.Sub(s.lastSync) >= s.syncEvery {
			s.lastSync = now
			if err := s.f.Sync(); err != nil {
				// The lines are written; a retry would duplicate them.
				s.log.Error("audit log fsync failed", "file", s.path, "err", err)
			}
		}
	}
	return nil
}

func partial(stored int, err error) error {
	if stored == 0 {
		return err
	}
	return &PartialError{Written: stored, Err: err}
}

// flush writes buf to the file, or truncates the file back to its size
// before the call and fails.
func (s *FileSink) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	n, err := s.f.Write(s.buf)
	if err != nil {
		if n > 0 {
			if terr := s.f.Truncate(s.size); terr != nil {
				s.log.Error("audit log: cannot remove a partial write", "file", s.path, "err", terr)
				s.size += int64(n)
			}
		}
		return fmt.Errorf("audit: write %s: %w", s.path, err)
	}
	s.size += int64(n)
	s.buf = s.buf[:0]
	return nil
}

// rotate fsyncs and closes the current file, shifts the backups (deleting
// the oldest), renames the file to .1 and opens a new one.
func (s *FileSink) rotate() error {
	errSync := s.f.Sync()
	errClose := s.f.Close()
	s.f = nil
	if err := errors.Join(errSync, errClose); err != nil {
		return fmt.Errorf("audit: rotate %s: %w", s.path, err)
	}
	if err := os.Remove(s.backup(s.maxBackups)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("audit: rotate: %w", err)
	}
	for i := s.maxBackups; i >= 1; i-- {
		if err := os.Rename(s.backup(i-1), s.backup(i)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("audit: rotate: %w", err)
		}
	}
	syncDir(filepath.Dir(s.path))
	s.log.Info("audit log rotated", "file", s.path, "backups", s.maxBackups)
	s.prune()
	return s.open()
}

// prune removes backups older than MaxAge.
func (s *FileSink) prune() {
	if s.maxAge <= 0 {
		return
	}
	cutoff := s.now().Add(-s.maxAge)
	for i := 1; i <= s.maxBackups; i++ {
		p := s.backup(i)
		fi, err := os.Stat(p)
		if err != nil || !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(p); err != nil {
			s.log.Error("audit log: cannot remove an expired backup", "file", p, "err", err)
			continue
		}
		s.log.Info("audit log: expired backup removed", "file", p, "modified", fi.ModTime())
	}
}

// syncDir makes renames in dir durable, where the platform allows.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync() // not supported everywhere; best effort
	_ = d.Close()
}

// Sync fsyncs the current file.
func (s *FileSink) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.f == nil {
		return nil
	}
	s.lastSync = s.now()
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("audit: sync %s: %w", s.path, err)
	}
	return nil
}

// Close fsyncs and closes the file. Later writes fail with ErrClosed;
// queries keep working (they read the files by name).
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.f == nil {
		return nil
	}
	errSync := s.f.Sync()
	errClose := s.f.Close()
	s.f = nil
	if err := errors.Join(errSync, errClose); err != nil {
		return fmt.Errorf("audit: close %s: %w", s.path, err)
	}
	return nil
}
