package query

import (
	"testing"

	"github.com/google/cel-go/cel"
)

// TestQuoteReadsBack: cel-go reads every Quote'd string back as the string itself.
func TestQuoteReadsBack(t *testing.T) {
	env, err := cel.NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"", "alice@example.com", `it's "quoted"`, `back\slash`, "tab\tnew\nline\r",
		"\x00\x07\x1f\x7f", "caf\u00e9 \u540d \U0001F600", "\u2028\u2029", "' || true || '", `\u0041`, "${x}`"} {
		ast, iss := env.Compile(Quote(s))
		if iss.Err() != nil {
			t.Errorf("%q as %s: %v", s, Quote(s), iss.Err())
			continue
		}
		prg, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		v, _, err := prg.Eval(map[string]any{})
		if err != nil || v.Value() != s {
			t.Errorf("%q as %s reads back as %v (%v)", s, Quote(s), v, err)
		}
	}
}
