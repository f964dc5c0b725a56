package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap/zapcore"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// defaultLogFile is where the logs go when LOCALRUN_LOGS is unset.
const defaultLogFile = ".tmp/localrun/operator.log"

// logFileFromEnv reads LOCALRUN_LOGS: unset or empty means defaultLogFile, a value with a slash is the
// log file's path, and any other value (stderr, or 1 as before) means the terminal, returned as "".
func logFileFromEnv(value string) string {
	switch {
	case value == "":
		return defaultLogFile
	case strings.Contains(value, "/"):
		return value
	default:
		return ""
	}
}

// openLogs sends the logs of the operator and the NATS server (ctrl.Log) and those of client-go and
// NACK (klog), from info level up, to a new file at path, or to stderr when path is "". It returns the
// file, or nil for stderr.
func openLogs(path string) (*os.File, error) {
	var w io.Writer = os.Stderr
	var f *os.File
	if path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		var err error
		if f, err = os.Create(path); err != nil {
			return nil, err
		}
		w = f
	}
	logger := zap.New(zap.WriteTo(w), zap.Level(zapcore.InfoLevel))
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)
	return f, nil
}
