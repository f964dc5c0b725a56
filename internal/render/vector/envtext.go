package vector

import (
	"errors"
	"regexp"
	"unicode/utf8"
)

// Vector reads an environment variable by substituting its value into the configuration's text before
// it parses the text as YAML (its config loading: environment interpolation, then secret placeholders,
// then serde_yaml over libyaml). Marshal writes a textEnv reference as a literal block scalar, in which
// YAML keeps every character of the line as it is. What is left that the value cannot hold:
var (
	// errEnvNotUTF8: Vector skips an environment variable that is not UTF-8, then finds it missing.
	errEnvNotUTF8 = errors.New("is not valid UTF-8")
	// errEnvLineBreak: Vector refuses a value with LF or CR; YAML also ends the line at NEL, LS and PS.
	errEnvLineBreak = errors.New("holds a line break")
	// errEnvControl: libyaml's reader refuses any other control character (all of C0 but tab, DEL,
	// C1 but NEL), a surrogate, U+FFFE and U+FFFF.
	errEnvControl = errors.New("holds a control character")
	// errEnvSecretPlaceholder: after substituting environment variables, Vector reads SECRET[a.b] as a
	// placeholder for its secret backend a, which the pipeline does not configure.
	errEnvSecretPlaceholder = errors.New("holds text of the form SECRET[name.key], which Vector reads as a secret placeholder")
)

// secretPlaceholder is what Vector collects as a secret placeholder.
var secretPlaceholder = regexp.MustCompile(`SECRET\[[A-Za-z0-9_\-]+\.[A-Za-z0-9_.\-/]+\]`)

// CheckEnvText says why Vector could not take value through one of textEnv (the aggregator's ClickHouse
// password), or nil when it can. The error never quotes the value.
func CheckEnvText(value []byte) error {
	if !utf8.Valid(value) {
		return errEnvNotUTF8
	}
	for _, r := range string(value) {
		switch {
		case r == '\n' || r == '\r' || r == 0x85 || r == 0x2028 || r == 0x2029:
			return errEnvLineBreak
		case r == '\t', r >= 0x20 && r <= 0x7e, r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000:
		default:
			return errEnvControl
		}
	}
	if secretPlaceholder.Match(value) {
		return errEnvSecretPlaceholder
	}
	return nil
}
