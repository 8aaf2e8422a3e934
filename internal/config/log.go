package config

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// LogLevel is one of the four levels GODOT_LOG_LEVEL names: ERROR, WARN,
// INFO, DEBUG. Its zero value is INFO. It implements slog.Leveler.
type LogLevel slog.Level

// ParseLogLevel parses ERROR, WARN (or WARNING), INFO or DEBUG in any case,
// ignoring surrounding spaces.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "ERROR":
		return slog.LevelError, nil
	case "WARN", "WARNING":
		return slog.LevelWarn, nil
	case "INFO":
		return slog.LevelInfo, nil
	case "DEBUG":
		return slog.LevelDebug, nil
	}
	return 0, fmt.Errorf("invalid log level %q: want ERROR, WARN, INFO or DEBUG", s)
}

// Level returns the slog level.
func (l LogLevel) Level() slog.Level { return slog.Level(l) }

// String returns the level's name.
func (l LogLevel) String() string { return slog.Level(l).String() }

// MarshalText returns the level's name.
func (l LogLevel) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText accepts what ParseLogLevel accepts.
func (l *LogLevel) UnmarshalText(b []byte) error {
	v, err := ParseLogLevel(string(b))
	if err != nil {
		return err
	}
	*l = LogLevel(v)
	return nil
}

// NewLogger returns a logger writing to w at level: JSON lines in
// production and staging, logfmt-style text in development and test.
func NewLogger(level slog.Leveler, env string, w io.Writer) *slog.Logger {
	return newLogger(level, jsonEnv(env), w)
}

// Logger returns the process logger described by c.Logging, writing to w:
// logging.format "json" or "text" wins over the environment's default.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	return newLogger(c.Logging.Level, c.Logging.JSON(c.Environment), w)
}

func newLogger(level slog.Leveler, json bool, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
