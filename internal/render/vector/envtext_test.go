package vector

import (
	"reflect"
	"strings"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
)

// passwordCases are passwords CheckEnvText takes: each is a way a plain or quoted YAML scalar would
// change or refuse the value once Vector substitutes it into the text.
var passwordCases = []string{
	"", "secret", `p"ss`, `back\slash`, `\n`, `\"`, `it's`, "''", `"`, "#hash", "a #b", "a: b", "a:b",
	"  two leading spaces", "trailing space ", " ", "\tleading tab", "tab\tinside", "|", ">", "- item", "-",
	"? key", "[x", "{x", "*alias", "&anchor", "!tag", "%TAG", "@at", "`tick`", "---", "...", "true", "123",
	"0x1F", "null", "~", "${OTHER}", "$$", "$HOME", "SECRET[", "SECRET[a]", "пароль", "€", "密码", "😀",
	"\u00a0nbsp", "\ufeffbom", "\ufffd", strings.Repeat("x", 4096),
}

// vectorSubstitute does what Vector's environment interpolation does with the aggregator's two
// variables: it replaces each ${NAME} by the value, once, without reading the value again.
func vectorSubstitute(config, user, password string) string {
	return strings.NewReplacer("${"+EnvClickHouseUser+"}", user, "${"+EnvClickHousePassword+"}", password).Replace(config)
}

// checkPasswordSurvives substitutes password into the aggregator's configuration and parses it as YAML:
// the sink's password must be the value exactly, and every other value what it was.
func checkPasswordSurvives(t *testing.T, config, password string) {
	t.Helper()
	var want, got map[string]any
	if err := yamlv3.Unmarshal([]byte(config), &want); err != nil {
		t.Fatal(err)
	}
	auth := want["sinks"].(map[string]any)[clickHouseWrite].(map[string]any)["auth"].(map[string]any)
	auth["user"], auth["password"] = "audit_writer", password
	if err := yamlv3.Unmarshal([]byte(vectorSubstitute(config, "audit_writer", password)), &got); err != nil {
		t.Fatalf("password %q: the configuration no longer parses: %v", password, err)
	}
	if !reflect.DeepEqual(got, want) {
		gotAuth := got["sinks"].(map[string]any)[clickHouseWrite].(map[string]any)["auth"]
		t.Fatalf("password %q: the configuration parses differently; auth is %#v", password, gotAuth)
	}
}

func TestAnyPasswordCheckEnvTextTakesSurvivesTheConfig(t *testing.T) {
	for name, p := range renderCases() {
		agg, err := RenderAggregator(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, pw := range passwordCases {
			if err := CheckEnvText([]byte(pw)); err != nil {
				t.Fatalf("%q: %v", pw, err)
			}
			t.Run(name, func(t *testing.T) { checkPasswordSurvives(t, agg.Config.Data[ConfigFile], pw) })
		}
	}
}

func FuzzPasswordText(f *testing.F) {
	for _, pw := range passwordCases {
		f.Add(pw)
	}
	agg, err := RenderAggregator(defaulted())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		if CheckEnvText([]byte(pw)) == nil {
			checkPasswordSurvives(t, agg.Config.Data[ConfigFile], pw)
		}
	})
}

func TestCheckEnvTextRefusesWhatVectorCannotTake(t *testing.T) {
	for value, want := range map[string]error{
		"a\nb":              errEnvLineBreak,
		"a\r":               errEnvLineBreak,
		"a\u0085b":          errEnvLineBreak,
		"\u2028":            errEnvLineBreak,
		"\u2029":            errEnvLineBreak,
		"nul\x00":           errEnvControl,
		"\x1b[0m":           errEnvControl,
		"del\x7f":           errEnvControl,
		"c1\u0090":          errEnvControl,
		"\ufffe":            errEnvControl,
		"\uffff":            errEnvControl,
		"\xff\xfe":          errEnvNotUTF8,
		"\xed\xa0\x80":      errEnvNotUTF8, // a surrogate, which UTF-8 cannot hold
		"SECRET[vault.pw]":  errEnvSecretPlaceholder,
		"xSECRET[a-b.c/d]y": errEnvSecretPlaceholder,
	} {
		if got := CheckEnvText([]byte(value)); got != want {
			t.Errorf("%q: got %v, want %v", value, got, want)
		}
	}
}

// An indentation indicator counts from the key's column, also for a key after a sequence's "- ".
func TestIndentTextReferences(t *testing.T) {
	ref := "${" + EnvClickHousePassword + "}"
	for _, tc := range []struct{ in, want string }{
		{"a:\n  password: |-\n    " + ref + "\n", "a:\n  password: |2-\n    " + ref + "\n"},
		{"l:\n  - password: |-\n      " + ref + "\n", "l:\n  - password: |2-\n      " + ref + "\n"},
		{"l:\n  - - password: |-\n        " + ref + "\n", "l:\n  - - password: |2-\n        " + ref + "\n"},
		{"a: |-\n  ${OTHER}\n", "a: |-\n  ${OTHER}\n"},
	} {
		got, err := indentTextReferences([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if !strings.Contains(tc.in, ref) {
			continue
		}
		for _, pw := range []string{"  lead", "x"} {
			var doc any
			if err := yamlv3.Unmarshal([]byte(strings.ReplaceAll(string(got), ref, pw)), &doc); err != nil {
				t.Errorf("%q with %q: %v", got, pw, err)
			} else if !containsValue(doc, pw) {
				t.Errorf("%q with %q: parsed as %#v", got, pw, doc)
			}
		}
	}
}

func containsValue(doc any, want string) bool {
	switch d := doc.(type) {
	case string:
		return d == want
	case map[string]any:
		for _, v := range d {
			if containsValue(v, want) {
				return true
			}
		}
	case []any:
		for _, v := range d {
			if containsValue(v, want) {
				return true
			}
		}
	}
	return false
}
