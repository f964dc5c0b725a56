package controller

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/testenv"
)

func TestSummarize(t *testing.T) {
	allReady := func(p *v1alpha1.AuditPipeline) {
		for _, c := range v1alpha1.ComponentConditions {
			markComponentReady(p, c, "ok")
		}
	}
	cases := []struct {
		name                        string
		set                         func(p *v1alpha1.AuditPipeline)
		err                         error
		ready, reconciling, stalled string
		messages                    map[string]string
	}{
		{"nothing observed yet", func(*v1alpha1.AuditPipeline) {}, nil,
			"False/ComponentsNotReady", "True/Progressing", "absent", map[string]string{
				v1alpha1.ConditionReconciling: "waiting for ClickHouseReady, SchemaReady, StreamReady, CollectorReady, AggregatorReady"}},
		{"every component ready", allReady, nil,
			"True/Succeeded", "absent", "absent", nil},
		{"one component converging", func(p *v1alpha1.AuditPipeline) {
			allReady(p)
			markComponentNotReady(p, v1alpha1.ConditionSchemaReady, v1alpha1.ReasonLocked, "locked by another migrator")
		}, nil, "False/ComponentsNotReady", "True/Progressing", "absent", nil},
		{"a checksum mismatch stalls", func(p *v1alpha1.AuditPipeline) {
			allReady(p)
			markComponentNotReady(p, v1alpha1.ConditionSchemaReady, v1alpha1.ReasonChecksumMismatch, "00002 changed")
			markComponentNotReady(p, v1alpha1.ConditionAggregatorReady, v1alpha1.ReasonRollingOut, "1/2")
		}, nil, "False/ComponentsNotReady", "absent", "True/ChecksumMismatch", map[string]string{
			v1alpha1.ConditionReady:   "not ready: SchemaReady (ChecksumMismatch), AggregatorReady (RollingOut)",
			v1alpha1.ConditionStalled: "needs a change to go on: SchemaReady (ChecksumMismatch); its condition says what to fix"}},
		{"a component not implemented stalls", func(p *v1alpha1.AuditPipeline) {
			allReady(p)
			markNotImplemented(p, v1alpha1.ConditionStreamReady, "the stream")
		}, nil, "False/ComponentsNotReady", "absent", "True/NotImplemented", nil},
		{"an error is retried", allReady, errors.New("apply: conflict"),
			"False/ReconcileFailed", "True/Progressing", "absent", map[string]string{
				v1alpha1.ConditionReady: "retrying after an error: apply: conflict", v1alpha1.ConditionReconciling: "retrying after an error"}},
		{"a long error is cut", allReady, errors.New(strings.Repeat("é", 300)),
			"False/ReconcileFailed", "True/Progressing", "absent", map[string]string{
				v1alpha1.ConditionReady: "retrying after an error: " + strings.Repeat("é", 100) + "..."}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &v1alpha1.AuditPipeline{ObjectMeta: metav1.ObjectMeta{Generation: 4}}
			// Leftovers of an earlier pass must not survive.
			setCondition(p, v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonInvalidSpec, "old")
			setCondition(p, v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonProgressing, "old")
			tc.set(p)
			summarize(p, tc.err)
			for cond, want := range map[string]string{v1alpha1.ConditionReady: tc.ready,
				v1alpha1.ConditionReconciling: tc.reconciling, v1alpha1.ConditionStalled: tc.stalled} {
				if got := conditionOf(p, cond); got != want {
					t.Errorf("%s = %s, want %s", cond, got, want)
				}
			}
			for cond, want := range tc.messages {
				if c := apimeta.FindStatusCondition(p.Status.Conditions, cond); c == nil || c.Message != want {
					t.Errorf("%s message = %+v, want %q", cond, c, want)
				}
			}
		})
	}
}

// An Event note over the API server's 1024-byte limit is cut at a character boundary.
func TestEventNote(t *testing.T) {
	short := "SchemaReady is False: locked"
	if got := eventNote(short); got != short {
		t.Errorf("eventNote(%q) = %q", short, got)
	}
	long := strings.Repeat("ü", 700) // 1400 bytes
	got := eventNote(long)
	if len(got) > maxEventNote || !utf8.ValidString(got) || !strings.HasSuffix(got, "... (see status.conditions)") {
		t.Errorf("eventNote of 1400 bytes = %d bytes, valid UTF-8 %v, %q...", len(got), utf8.ValidString(got), got[len(got)-40:])
	}
}

// Every reason constant of api/v1alpha1 is classified in reasonClasses, read from the source so that a
// new reason cannot be forgotten, and every reason a step's outcome names is a component's.
func TestEveryReasonIsClassified(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, "api", "v1alpha1", "condition_types.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, decl := range file.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			for i, name := range spec.(*ast.ValueSpec).Names {
				if !strings.HasPrefix(name.Name, "Reason") {
					continue
				}
				lit, ok := spec.(*ast.ValueSpec).Values[i].(*ast.BasicLit)
				if !ok {
					t.Fatalf("%s is not a string literal", name.Name)
				}
				value, _ := strconv.Unquote(lit.Value)
				n++
				if _, ok := reasonClasses[value]; !ok {
					t.Errorf("%s (%q) is not in reasonClasses: say whether it stalls the pipeline", name.Name, value)
				}
			}
		}
	}
	if n != len(reasonClasses) {
		t.Errorf("condition_types.go has %d reasons, reasonClasses %d", n, len(reasonClasses))
	}
}
