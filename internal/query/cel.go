package query

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/parser"
)

// The limits of a filter. Compile refuses a filter beyond any of them.
const (
	// MaxFilterBytes is the longest filter, in bytes.
	MaxFilterBytes = 4096
	// MaxFilterDepth is the deepest nesting of a filter's expressions: `a && b` is two levels, a
	// comparison inside it three.
	MaxFilterDepth = 32
	// MaxStringBytes is the longest string literal, in bytes (UTF-8).
	MaxStringBytes = 4096
	// MaxListItems is the most items a list literal may have.
	MaxListItems = 1000
	// MaxPatternBytes is the longest regular expression of matches().
	MaxPatternBytes = 1024
)

// nowVariable is the variable that holds the time SQL is given.
const nowVariable = "now"

// supportedSubset sums up what a filter can use, for the messages of refused filters.
const supportedSubset = "a filter can use the event's fields, string, int and bool literals, == != < <= > >=, " +
	"&& || !, c ? a : b, in (a list literal, a list field, annotations), startsWith, endsWith, contains, " +
	"matches (a literal pattern), size, has, annotations['key'], and now, timestamp('RFC 3339') and duration('1h') with + and -"

// Filter is a CEL filter over the audit event, parsed and type-checked.
type Filter struct {
	expr string
	ast  *ast.AST
	// times are the programs of the filter's constant time expressions (timestamps that read no field of
	// the event), by expression ID: SQL evaluates them with now and binds their values.
	times map[int64]cel.Program
}

// Error is why Compile or SQL refuses a filter, and where: Line and Column (both from 1, the column in
// characters) point at the part of the filter that is refused; a filter too long is refused at the first
// byte beyond MaxFilterBytes, one that nests too deep for the parser at 1:1.
type Error struct {
	Line, Column int
	Msg          string
	// source is the filter's line the error is on, for the caret.
	source string
}

// Error is "filter:LINE:COLUMN: MSG", then the line of the filter and a caret under the column.
func (e *Error) Error() string {
	if e.Line == 0 {
		return "filter: " + e.Msg
	}
	// The line around the column: at most snippetRunes of it either side.
	const snippetRunes = 60
	runes := []rune(e.source)
	col := min(e.Column-1, len(runes))
	from, to := max(0, col-snippetRunes), min(len(runes), col+snippetRunes)
	var line, caret strings.Builder
	if from > 0 {
		line.WriteString("...")
		caret.WriteString("   ")
	}
	line.WriteString(string(runes[from:to]))
	if to < len(runes) {
		line.WriteString("...")
	}
	for _, r := range runes[from:col] {
		if r == '\t' {
			caret.WriteByte('\t')
		} else {
			caret.WriteByte(' ')
		}
	}
	caret.WriteByte('^')
	return fmt.Sprintf("filter:%d:%d: %s\n | %s\n | %s", e.Line, e.Column, e.Msg, line.String(), caret.String())
}

// Quote is s as a CEL string literal that reads back as s, for a filter built from values (s is valid
// UTF-8, as every string of an audit event is): Go's quoting writes only escapes CEL reads the same way.
func Quote(s string) string { return strconv.Quote(s) }

// Compile parses and type-checks expr, a CEL expression over the audit event, and checks that SQL can
// translate it: it translates it once, to refuse at once what SQL would.
//
// The filter sees the fields of Fields as CEL variables: the top-level ones (verb, stageTimestamp,
// sourceIPs, annotations, ...) by name, the nested ones as fields of objects (user.username,
// objectRef.namespace, responseStatus.code, ...), each of the type Fields gives it (string, int,
// timestamp, list(string) or map(string, string)); a name that is not one of them, or a value of
// the wrong type (`responseStatus.code == '200'`), is refused. A field reads as its column (Field.SQL)
// does: a field the event lacks is "" for a string, 0 for an int, an empty list or map; a string field
// of another type is "" where it has a typed column (verb, user.username, objectRef.name, ...) and its
// JSON text where it is read from rest (requestURI, userAgent, annotations' values, list items, ...);
// responseStatus.code is 0 unless an integer from 1 to 65535. now is a timestamp: the time SQL is given.
//
// A filter is a bool expression made of:
//   - the fields, and string (quoted with ' or ", raw with r, triple-quoted), int and bool literals;
//   - == and != between two strings, ints, bools or timestamps; < <= > >= between two strings (byte
//     order), ints or timestamps;
//   - &&, ||, ! and the conditional c ? a : b;
//   - in: x in ['a', 'b'] (a list literal of at most MaxListItems items, of the type of x), x in a list
//     field ('system:masters' in user.groups), 'key' in annotations (the event has the annotation);
//   - s.startsWith(x), s.endsWith(x), s.contains(x) on strings;
//   - s.matches('re'): the RE2 regular expression, found anywhere in s (anchor it with ^ and $), given
//     as a string literal of at most MaxPatternBytes bytes; . does not match a newline unless the
//     pattern sets (?s);
//   - size(x) or x.size() of a string (code points), a list field or annotations (its keys);
//   - has(a.b) on a nested field: the field is not empty ("" for a string, 0 for an int, [] for a
//     list); has() of a top-level field is not CEL;
//   - annotations['key']: the annotation's value, "" when the event has no such annotation (or its value
//     is not a string);
//   - timestamps: the timestamp fields (stageTimestamp, requestReceivedTimestamp), compared with each
//     other or with a time expression that reads no field of the event: now, timestamp('RFC 3339
//     text'), duration('1h30m') added to or subtracted from them (stageTimestamp > now -
//     duration('24h')). SQL evaluates such an expression with cel-go and binds its value.
//
// Anything else is refused with an Error that points at it: other functions and conversions
// (int(), string(), ...), arithmetic on fields or numbers, the macros all, exists, exists_one, map and
// filter, indexing a list, map and message literals, uint, double, bytes and null literals, comparing
// lists, maps or objects. Limits: MaxFilterBytes, MaxFilterDepth, MaxStringBytes, MaxListItems and
// MaxPatternBytes.
func Compile(expr string) (*Filter, error) {
	if len(expr) > MaxFilterBytes {
		return nil, atOffset(expr, MaxFilterBytes, fmt.Sprintf("the filter is %d bytes long; at most %d are allowed", len(expr), MaxFilterBytes))
	}
	for i, r := range expr {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(expr[i:]); size == 1 {
				return nil, atOffset(expr, i, "the filter is not valid UTF-8")
			}
		}
	}
	env, err := filterEnv()
	if err != nil {
		return nil, err
	}
	parsed, iss := env.Parse(expr)
	if iss.Err() != nil {
		return nil, issueError(expr, iss, nil)
	}
	native := parsed.NativeRep()
	if err := checkDepth(expr, native); err != nil {
		return nil, err
	}
	checked, iss := env.Check(parsed)
	if iss.Err() != nil {
		return nil, issueError(expr, iss, native)
	}
	f := &Filter{expr: expr, ast: checked.NativeRep(), times: map[int64]cel.Program{}}
	tr := &translator{f: f, p: &Params{}, now: time.Now(), env: env}
	if t := f.ast.GetType(f.ast.Expr().ID()); t.Kind() != types.BoolKind {
		return nil, tr.refuse(f.ast.Expr(), "a filter is a condition, of type bool; this one is of type %s", celTypeName(t))
	}
	if _, err := tr.bool(f.ast.Expr()); err != nil {
		return nil, err
	}
	return f, nil
}

// String returns the source expression.
func (f *Filter) String() string { return f.expr }

// SQL is the filter as a ClickHouse boolean expression over the columns of events or changes
// (Field.SQL), every value bound in p; now is the value of the variable now.
func (f *Filter) SQL(p *Params, now time.Time) (string, error) {
	tr := &translator{f: f, p: p, now: now}
	return tr.bool(f.ast.Expr())
}

// The environment: the fields as variables, now, and the object types of the nested fields.
var filterEnvironment struct {
	once sync.Once
	env  *cel.Env
	err  error
}

func filterEnv() (*cel.Env, error) {
	filterEnvironment.once.Do(func() { filterEnvironment.env, filterEnvironment.err = newFilterEnv() })
	return filterEnvironment.env, filterEnvironment.err
}

// objectTypePrefix names the object types of nested fields: objectRef is of type audit.objectRef.
const objectTypePrefix = "audit."

// eventTypes declares the objects that hold nested fields (user, objectRef, responseStatus, ...) as
// CEL object types, so that the checker knows their fields and types. A filter that SQL translates
// never reads them, but a test evaluates filters with cel-go on events: an object is then a
// map[string]any of its fields' values (string, int64, time.Time, []string, a map for a map field, and
// map[string]any again for an object), a missing field reads as the zero of its type, and has() is true
// when the field is not zero (the same as SQL's).
type eventTypes struct {
	types.Provider
	objects map[string]*objectType
}

type objectType struct {
	names  []string
	fields map[string]*types.FieldType
}

func (e *eventTypes) FindStructType(name string) (*types.Type, bool) {
	if _, ok := e.objects[name]; ok {
		return types.NewTypeTypeWithParam(types.NewObjectType(name)), true
	}
	return e.Provider.FindStructType(name)
}

func (e *eventTypes) FindStructFieldNames(name string) ([]string, bool) {
	if o, ok := e.objects[name]; ok {
		return slices.Clone(o.names), true
	}
	return e.Provider.FindStructFieldNames(name)
}

func (e *eventTypes) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if o, ok := e.objects[name]; ok {
		ft, ok := o.fields[field]
		return ft, ok
	}
	return e.Provider.FindStructFieldType(name, field)
}

func (e *eventTypes) NewValue(name string, fields map[string]ref.Val) ref.Val {
	if _, ok := e.objects[name]; ok {
		return types.NewErr("cannot create an object of type %s", name)
	}
	return e.Provider.NewValue(name, fields)
}

// celType is the CEL type of a Field's Type.
func celType(t string) (*types.Type, error) {
	switch t {
	case "string":
		return types.StringType, nil
	case "int":
		return types.IntType, nil
	case "bool":
		return types.BoolType, nil
	case "timestamp":
		return types.TimestampType, nil
	case "list(string)":
		return types.NewListType(types.StringType), nil
	case "map(string, string)":
		return types.NewMapType(types.StringType, types.StringType), nil
	}
	return nil, fmt.Errorf("query: a field of type %q cannot be declared to CEL", t)
}

// zeroOf is what a field of type t reads as when the object lacks it.
func zeroOf(t *types.Type) any {
	switch t.Kind() {
	case types.StringKind:
		return ""
	case types.IntKind:
		return int64(0)
	case types.BoolKind:
		return false
	case types.TimestampKind:
		return time.Unix(0, 0).UTC()
	case types.ListKind:
		return []string{}
	case types.MapKind:
		return map[string]string{}
	}
	return map[string]any{}
}

// isZeroField is whether v, a field's value, is the zero of its type: has() is false then.
func isZeroField(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case int64:
		return v == 0
	case int:
		return v == 0
	case bool:
		return !v
	case time.Time:
		return v.IsZero()
	case []string:
		return len(v) == 0
	case []any:
		return len(v) == 0
	case map[string]string:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	case sizer:
		return v.Size() == types.IntZero
	}
	return false
}

// sizer is what isZeroField needs of a CEL list or map value.
type sizer interface{ Size() ref.Val }

func newFilterEnv() (*cel.Env, error) {
	registry, err := types.NewRegistry()
	if err != nil {
		return nil, err
	}
	provider := &eventTypes{Provider: registry, objects: map[string]*objectType{}}
	var top []string
	topType := map[string]*types.Type{}
	for _, f := range Fields {
		typ, err := celType(f.Type)
		if err != nil {
			return nil, err
		}
		parts := strings.Split(f.Path, ".")
		for i, part := range parts {
			if part == "" {
				return nil, fmt.Errorf("query: field %q has an empty name", f.Path)
			}
			fieldType := typ
			if i < len(parts)-1 {
				fieldType = types.NewObjectType(objectTypePrefix + strings.Join(parts[:i+1], "."))
			}
			if i == 0 {
				if prev, ok := topType[part]; ok {
					if !prev.IsExactType(fieldType) {
						return nil, fmt.Errorf("query: field %q has two types", part)
					}
					continue
				}
				if part == nowVariable {
					return nil, fmt.Errorf("query: field %q takes the name of the variable now", f.Path)
				}
				top = append(top, part)
				topType[part] = fieldType
				continue
			}
			name := objectTypePrefix + strings.Join(parts[:i], ".")
			o := provider.objects[name]
			if o == nil {
				o = &objectType{fields: map[string]*types.FieldType{}}
				provider.objects[name] = o
			}
			if prev, ok := o.fields[part]; ok {
				if !prev.Type.IsExactType(fieldType) {
					return nil, fmt.Errorf("query: field %q has two types", strings.Join(parts[:i+1], "."))
				}
				continue
			}
			o.names = append(o.names, part)
			o.fields[part] = objectField(part, fieldType)
		}
	}
	opts := []cel.EnvOption{
		cel.CustomTypeProvider(provider),
		cel.ParserExpressionSizeLimit(MaxFilterBytes),
		// The parser's own guard against deep nesting; checkDepth then applies MaxFilterDepth to the tree.
		cel.ParserRecursionLimit(4 * MaxFilterDepth),
		cel.Variable(nowVariable, types.TimestampType),
	}
	for _, name := range top {
		opts = append(opts, cel.Variable(name, topType[name]))
	}
	return cel.NewEnv(opts...)
}

// objectField is the declaration of field name of an object, of type t, read from a map[string]any.
func objectField(name string, t *types.Type) *types.FieldType {
	get := func(obj any) (any, bool) {
		m, ok := obj.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok := m[name]
		return v, ok && v != nil
	}
	return &types.FieldType{
		Type: t,
		IsSet: func(obj any) bool {
			v, ok := get(obj)
			return ok && !isZeroField(v)
		},
		GetFrom: func(obj any) (any, error) {
			if v, ok := get(obj); ok {
				return v, nil
			}
			return zeroOf(t), nil
		},
	}
}

// issueError is the first of the parser's or checker's errors as an Error, with a hint of what is
// supported. parsed is the filter the checker refused (nil for the parser's errors).
func issueError(expr string, iss *cel.Issues, parsed *ast.AST) error {
	errs := iss.Errors()
	if len(errs) == 0 {
		return &Error{Msg: iss.String()}
	}
	// An unknown name is the cause of the errors that follow from it (no matching overload, ...).
	e := errs[0]
	for _, other := range errs {
		if strings.HasPrefix(other.Message, "undeclared reference") || strings.HasPrefix(other.Message, "undefined field") {
			e = other
			break
		}
	}
	msg := strings.TrimSuffix(e.Message, " (in container '')")
	switch {
	case strings.HasPrefix(msg, "undeclared reference to") && isCall(parsed, e.ExprID):
		msg += "; the function is not supported: " + supportedSubset
	case strings.HasPrefix(msg, "undefined field") && objectFields(parsed, e.ExprID) != "":
		msg += "; the fields are " + objectFields(parsed, e.ExprID)
	case strings.HasPrefix(msg, "undeclared reference to"), strings.HasPrefix(msg, "undefined field"):
		msg += "; the fields are " + strings.Join(fieldPaths(), ", ") + ", and the variable now"
	case strings.Contains(msg, "recursion limit exceeded"):
		msg = fmt.Sprintf("the filter nests expressions too deep (%s); at most %d levels are allowed", msg, MaxFilterDepth)
	case strings.HasPrefix(msg, "found no matching overload"):
		msg += "; compare a field with a value of its type: a string ('x'), an int (200), a timestamp (timestamp('2026-01-01T00:00:00Z'), now - duration('1h'))"
	}
	if len(errs) > 1 {
		msg += fmt.Sprintf(" (and %d more errors)", len(errs)-1)
	}
	line, col := e.Location.Line(), e.Location.Column()
	if line < 1 {
		// The parser's recursion limit has no location: the whole filter.
		line, col = 1, 0
	}
	return positioned(expr, line, col, msg)
}

// atOffset is an Error at the byte offset off of expr.
func atOffset(expr string, off int, msg string) *Error {
	before := expr[:off]
	line := strings.Count(before, "\n") + 1
	col := utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:])
	return positioned(strings.ToValidUTF8(expr, "\uFFFD"), line, col, msg)
}

// find is the expression id of parsed, nil when there is none.
func find(parsed *ast.AST, id int64) ast.Expr {
	if parsed == nil {
		return nil
	}
	var found ast.Expr
	var walk func(e ast.Expr)
	walk = func(e ast.Expr) {
		if found != nil {
			return
		}
		if e.ID() == id {
			found = e
			return
		}
		for _, c := range subExprs(e) {
			walk(c)
		}
	}
	walk(parsed.Expr())
	return found
}

// isCall is whether the expression id of parsed is a function call.
func isCall(parsed *ast.AST, id int64) bool {
	e := find(parsed, id)
	return e != nil && e.Kind() == ast.CallKind
}

// objectFields lists the fields of the object whose field the expression id of parsed selects: the
// fields of objectRef for objectRef.nam. "" when it selects no field of a known object.
func objectFields(parsed *ast.AST, id int64) string {
	e := find(parsed, id)
	if e == nil || e.Kind() != ast.SelectKind {
		return ""
	}
	prefix := fieldPath(e.AsSelect().Operand())
	if prefix == "" {
		return ""
	}
	var fields []string
	for _, f := range Fields {
		if strings.HasPrefix(f.Path, prefix+".") {
			fields = append(fields, f.Path)
		}
	}
	return strings.Join(fields, ", ")
}

// fieldPaths are the paths of Fields.
func fieldPaths() []string {
	paths := make([]string, len(Fields))
	for i, f := range Fields {
		paths[i] = f.Path
	}
	return paths
}

// positioned is an Error at line (from 1) and col (from 0, in code points) of expr.
func positioned(expr string, line, col int, msg string) *Error {
	if line < 1 {
		return &Error{Msg: msg}
	}
	col = max(col, 0)
	lines := strings.Split(expr, "\n")
	source := ""
	if line <= len(lines) {
		source = strings.TrimSuffix(lines[line-1], "\r")
	}
	return &Error{Line: line, Column: col + 1, Msg: msg, source: source}
}

// subExprs are the expressions directly inside e.
func subExprs(e ast.Expr) []ast.Expr {
	switch e.Kind() {
	case ast.CallKind:
		c := e.AsCall()
		var out []ast.Expr
		if c.IsMemberFunction() {
			out = append(out, c.Target())
		}
		return append(out, c.Args()...)
	case ast.SelectKind:
		return []ast.Expr{e.AsSelect().Operand()}
	case ast.ListKind:
		return e.AsList().Elements()
	case ast.MapKind:
		var out []ast.Expr
		for _, en := range e.AsMap().Entries() {
			out = append(out, en.AsMapEntry().Key(), en.AsMapEntry().Value())
		}
		return out
	case ast.StructKind:
		var out []ast.Expr
		for _, f := range e.AsStruct().Fields() {
			out = append(out, f.AsStructField().Value())
		}
		return out
	case ast.ComprehensionKind:
		c := e.AsComprehension()
		return []ast.Expr{c.IterRange(), c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result()}
	}
	return nil
}

// checkDepth refuses a filter nested deeper than MaxFilterDepth, pointing at the first expression too deep.
func checkDepth(expr string, a *ast.AST) error {
	var deep ast.Expr
	var walk func(e ast.Expr, depth int)
	walk = func(e ast.Expr, depth int) {
		if deep != nil {
			return
		}
		if depth > MaxFilterDepth {
			deep = e
			return
		}
		for _, c := range subExprs(e) {
			walk(c, depth+1)
		}
	}
	walk(a.Expr(), 1)
	if deep == nil {
		return nil
	}
	loc := a.SourceInfo().GetStartLocation(deep.ID())
	return positioned(expr, loc.Line(), loc.Column(),
		fmt.Sprintf("the filter nests expressions more than %d levels deep", MaxFilterDepth))
}

// translator turns a checked filter into SQL, binding its values in p.
type translator struct {
	f   *Filter
	p   *Params
	now time.Time
	// env is set when Compile translates: the programs of the time expressions are made then.
	env *cel.Env
}

// refuse is an Error at e.
func (t *translator) refuse(e ast.Expr, format string, args ...any) error {
	loc := t.f.ast.SourceInfo().GetStartLocation(e.ID())
	return positioned(t.f.expr, loc.Line(), loc.Column(), fmt.Sprintf(format, args...))
}

func (t *translator) typeOf(e ast.Expr) *types.Type { return t.f.ast.GetType(e.ID()) }

// celTypeName is t as a filter's author knows it: string, list(string), objectRef, ...
func celTypeName(t *types.Type) string {
	if t == nil {
		return "unknown"
	}
	switch t.Kind() {
	case types.StructKind:
		return strings.TrimPrefix(t.TypeName(), objectTypePrefix)
	case types.TimestampKind:
		return "timestamp"
	case types.DurationKind:
		return "duration"
	case types.NullTypeKind:
		return "null"
	}
	return t.String()
}

// scalarType is whether values of type t can be compared in SQL.
func scalarType(t *types.Type) bool {
	switch t.Kind() {
	case types.StringKind, types.IntKind, types.BoolKind, types.TimestampKind:
		return true
	}
	return false
}

// bool translates e, of type bool.
func (t *translator) bool(e ast.Expr) (string, error) {
	if k := t.typeOf(e).Kind(); k != types.BoolKind {
		return "", t.refuse(e, "expected a condition (bool) here, not %s", celTypeName(t.typeOf(e)))
	}
	return t.expr(e)
}

// expr translates e.
func (t *translator) expr(e ast.Expr) (string, error) {
	typ := t.typeOf(e)
	switch typ.Kind() {
	case types.TimestampKind:
		if !readsEvent(e) {
			return t.timeValue(e)
		}
	case types.DurationKind:
		return "", t.refuse(e, "a duration can only be added to or subtracted from now or a timestamp('...'), "+
			"as in stageTimestamp > now - duration('1h')")
	}
	switch e.Kind() {
	case ast.LiteralKind:
		return t.literal(e)
	case ast.IdentKind:
		return t.field(e)
	case ast.SelectKind:
		if e.AsSelect().IsTestOnly() {
			return t.has(e)
		}
		return t.field(e)
	case ast.CallKind:
		return t.call(e)
	case ast.ListKind:
		return "", t.refuse(e, "a list literal can only be the right side of in, as in verb in ['create', 'update']")
	case ast.MapKind:
		return "", t.refuse(e, "map literals are not supported; %s", supportedSubset)
	case ast.StructKind:
		return "", t.refuse(e, "object literals are not supported; %s", supportedSubset)
	case ast.ComprehensionKind:
		return "", t.refuse(e, "the macros all, exists, exists_one, map and filter are not supported; %s", supportedSubset)
	}
	return "", t.refuse(e, "this expression is not supported; %s", supportedSubset)
}

// readsEvent is whether e reads a field of the event: names a variable other than now.
func readsEvent(e ast.Expr) bool {
	if e.Kind() == ast.IdentKind {
		return e.AsIdent() != nowVariable
	}
	for _, c := range subExprs(e) {
		if readsEvent(c) {
			return true
		}
	}
	return false
}

// literal binds a string, int or bool literal.
func (t *translator) literal(e ast.Expr) (string, error) {
	switch v := e.AsLiteral().(type) {
	case types.String:
		return t.stringParam(e, string(v))
	case types.Int:
		return t.p.Add("Int64", strconv.FormatInt(int64(v), 10)), nil
	case types.Bool:
		return t.p.Add("Bool", strconv.FormatBool(bool(v))), nil
	}
	return "", t.refuse(e, "%s literals are not supported: a filter's literals are strings, ints and bools (and timestamp('...'), duration('...'))",
		celTypeName(t.typeOf(e)))
}

// stringParam binds s as a String parameter.
func (t *translator) stringParam(e ast.Expr, s string) (string, error) {
	if len(s) > MaxStringBytes {
		return "", t.refuse(e, "the string is %d bytes long; at most %d are allowed", len(s), MaxStringBytes)
	}
	return t.p.String(s), nil
}

// fieldPath is the field e names (verb, objectRef.name), or "" when e is not a field.
func fieldPath(e ast.Expr) string {
	switch e.Kind() {
	case ast.IdentKind:
		return e.AsIdent()
	case ast.SelectKind:
		s := e.AsSelect()
		if s.IsTestOnly() {
			return ""
		}
		if p := fieldPath(s.Operand()); p != "" {
			return p + "." + s.FieldName()
		}
	}
	return ""
}

// fieldOf is the field e names.
func (t *translator) fieldOf(e ast.Expr) (Field, error) {
	p := fieldPath(e)
	if f, ok := FieldByPath(p); ok {
		return f, nil
	}
	if p == "" {
		// Not a field: say what it is (a map literal, a call, ...), from what the selections start with,
		// a smaller expression than e.
		if err := t.explain(e); err != nil {
			return Field{}, err
		}
		return Field{}, t.refuse(e, "expected a field of the event here; the fields are %s", strings.Join(fieldPaths(), ", "))
	}
	if t.typeOf(e).Kind() == types.StructKind {
		var fields []string
		for _, f := range Fields {
			if strings.HasPrefix(f.Path, p+".") {
				fields = append(fields, f.Path)
			}
		}
		return Field{}, t.refuse(e, "%s is an object; use one of its fields: %s", p, strings.Join(fields, ", "))
	}
	return Field{}, t.refuse(e, "%s is not a field of the event; the fields are %s", p, strings.Join(fieldPaths(), ", "))
}

// explain is the error that translating e, which is not a field, gives: what is wrong with it (a map
// literal, a macro, ...). It translates what e's selections start from, a smaller expression than e,
// into a Params of its own.
func (t *translator) explain(e ast.Expr) error {
	for e.Kind() == ast.SelectKind && !e.AsSelect().IsTestOnly() {
		e = e.AsSelect().Operand()
	}
	if e.Kind() == ast.SelectKind || e.Kind() == ast.IdentKind {
		return nil
	}
	scratch := *t
	scratch.p = &Params{}
	_, err := scratch.expr(e)
	return err
}

// field reads the field e names.
func (t *translator) field(e ast.Expr) (string, error) {
	f, err := t.fieldOf(e)
	if err != nil {
		return "", err
	}
	if t.typeOf(e).Kind() == types.MapKind {
		return "", t.refuse(e, "%s is a map: read a key with %s['key'], test one with 'key' in %s, or count them with size(%s)",
			f.Path, f.Path, f.Path, f.Path)
	}
	return "(" + f.SQL + ")", nil
}

// jsonKeyPart is a key of a map field's path, which mapField writes as a string literal. The path comes
// from Fields, never from the filter; it is checked all the same.
var jsonKeyPart = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (t *translator) mapField(e ast.Expr) (json, keys string, err error) {
	f, err := t.fieldOf(e)
	if err != nil {
		return "", "", err
	}
	var parts []string
	for _, part := range strings.Split(f.Path, ".") {
		if !jsonKeyPart.MatchString(part) {
			return "", "", t.refuse(e, "the map field %s cannot be read from JSON", f.Path)
		}
		parts = append(parts, "'"+part+"'")
	}
	return f.SQL, strings.Join(parts, ", "), nil
}

// has is has(a.b): the field is not empty.
func (t *translator) has(e ast.Expr) (string, error) {
	s := e.AsSelect()
	if t.typeOf(s.Operand()).Kind() == types.MapKind {
		return "", t.refuse(e, "has() of a map key is not supported: test an annotation with 'key' in annotations")
	}
	p := fieldPath(s.Operand())
	if p == "" {
		return "", t.refuse(e, "has() takes a field of the event, as in has(objectRef.name)")
	}
	f, ok := FieldByPath(p + "." + s.FieldName())
	if !ok {
		return "", t.refuse(e, "has() takes a field of the event, as in has(objectRef.name); %s.%s is not one", p, s.FieldName())
	}
	typ, _ := celType(f.Type)
	switch typ.Kind() {
	case types.StringKind:
		return "((" + f.SQL + ") != '')", nil
	case types.IntKind:
		return "((" + f.SQL + ") != 0)", nil
	case types.ListKind:
		return "notEmpty(" + f.SQL + ")", nil
	}
	return "", t.refuse(e, "has() of a %s field is not supported", f.Type)
}

// sqlComparisons are the SQL of CEL's comparisons.
var sqlComparisons = map[string]string{
	"_==_": "=", "_!=_": "!=", "_<_": "<", "_<=_": "<=", "_>_": ">", "_>=_": ">=",
}

// operatorNames are CEL's operators as a filter writes them.
var operatorNames = map[string]string{
	"_+_": "+", "_-_": "-", "_*_": "*", "_/_": "/", "_%_": "%", "-_": "unary -", "_[_]": "[]", "_?_:_": "?:",
	"@in": "in", "!_": "!", "_&&_": "&&", "_||_": "||",
}

func (t *translator) call(e ast.Expr) (string, error) {
	c := e.AsCall()
	fn := c.FunctionName()
	args := c.Args()
	if c.IsMemberFunction() {
		args = append([]ast.Expr{c.Target()}, args...)
	}
	switch fn {
	case "_&&_", "_||_":
		op := " AND "
		if fn == "_||_" {
			op = " OR "
		}
		var parts []string
		for _, a := range args {
			s, err := t.bool(a)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return "(" + strings.Join(parts, op) + ")", nil
	case "!_":
		s, err := t.bool(args[0])
		if err != nil {
			return "", err
		}
		return "(NOT " + s + ")", nil
	case "_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_":
		return t.compare(e, fn, args)
	case "_?_:_":
		return t.conditional(e, args)
	case "@in":
		return t.in(e, args[0], args[1])
	case "_[_]":
		if t.typeOf(args[0]).Kind() != types.MapKind {
			return "", t.refuse(e, "only annotations can be indexed, as in annotations['key']; indexing a list is not supported")
		}
		json, jpath, err := t.mapField(args[0])
		if err != nil {
			return "", err
		}
		key, err := t.stringArg(args[1])
		if err != nil {
			return "", err
		}
		return "JSONExtractString(" + json + ", " + jpath + ", " + key + ")", nil
	case "startsWith", "endsWith", "contains":
		if len(args) != 2 {
			break
		}
		s, err := t.stringArg(args[0])
		if err != nil {
			return "", err
		}
		x, err := t.stringArg(args[1])
		if err != nil {
			return "", err
		}
		if fn == "contains" {
			return "(position(" + s + ", " + x + ") > 0)", nil
		}
		return fn + "(" + s + ", " + x + ")", nil
	case "matches":
		if len(args) != 2 {
			break
		}
		return t.matches(e, args[0], args[1])
	case "size":
		if len(args) != 1 {
			break
		}
		return t.size(e, args[0])
	case "_+_", "_-_", "_*_", "_/_", "_%_", "-_":
		return "", t.refuse(e, "arithmetic (%s) is only supported between now, timestamp('...') and duration('...'), "+
			"not on fields of the event or numbers: write stageTimestamp > now - duration('1h'), not stageTimestamp + duration('1h') > now",
			operatorNames[fn])
	case "timestamp", "duration":
		return "", t.refuse(e, "%s() takes a string literal, as in %s", fn, map[string]string{
			"timestamp": "timestamp('2026-01-01T00:00:00Z')", "duration": "duration('1h30m')"}[fn])
	}
	name := fn
	if d, ok := operatorNames[fn]; ok {
		name = "operator " + d
	} else {
		name += "()"
	}
	return "", t.refuse(e, "%s is not supported; %s", name, supportedSubset)
}

// stringArg translates e, which must be a string.
func (t *translator) stringArg(e ast.Expr) (string, error) {
	if k := t.typeOf(e).Kind(); k != types.StringKind {
		return "", t.refuse(e, "expected a string here, not %s", celTypeName(t.typeOf(e)))
	}
	return t.expr(e)
}

// compare translates a comparison of two strings, ints, bools (== and != only) or timestamps.
func (t *translator) compare(e ast.Expr, fn string, args []ast.Expr) (string, error) {
	// The operands first: their errors say more (dyn() is not supported, objectRef is an object, ...).
	l, err := t.expr(args[0])
	if err != nil {
		return "", err
	}
	r, err := t.expr(args[1])
	if err != nil {
		return "", err
	}
	lt, rt := t.typeOf(args[0]), t.typeOf(args[1])
	for i, typ := range []*types.Type{lt, rt} {
		if !scalarType(typ) {
			return "", t.refuse(args[i], "%s cannot be compared: comparisons are between strings, ints, bools or timestamps, not %s",
				describeExpr(args[i]), celTypeName(typ))
		}
	}
	if !lt.IsExactType(rt) {
		return "", t.refuse(e, "cannot compare %s with %s", celTypeName(lt), celTypeName(rt))
	}
	if lt.Kind() == types.BoolKind && fn != "_==_" && fn != "_!=_" {
		return "", t.refuse(e, "bools can only be compared with == and !=")
	}
	return "(" + l + " " + sqlComparisons[fn] + " " + r + ")", nil
}

// describeExpr names e in a message: its field path, or "this value".
func describeExpr(e ast.Expr) string {
	if p := fieldPath(e); p != "" {
		return p
	}
	return "this value"
}

// conditional translates c ? a : b, whose branches are strings, ints, bools or timestamps.
func (t *translator) conditional(e ast.Expr, args []ast.Expr) (string, error) {
	if !scalarType(t.typeOf(e)) {
		return "", t.refuse(e, "the branches of ?: must be strings, ints, bools or timestamps, not %s", celTypeName(t.typeOf(e)))
	}
	parts := make([]string, 3)
	for i, a := range args {
		var err error
		if i == 0 {
			parts[i], err = t.bool(a)
		} else {
			parts[i], err = t.expr(a)
		}
		if err != nil {
			return "", err
		}
	}
	return "if(" + strings.Join(parts, ", ") + ")", nil
}

// in translates x in list: a list literal, a list field, or a map field (its keys).
func (t *translator) in(e, x, list ast.Expr) (string, error) {
	xt := t.typeOf(x)
	switch {
	case list.Kind() == ast.ListKind:
		if !scalarType(xt) {
			return "", t.refuse(x, "the left side of in must be a string, int, bool or timestamp, not %s", celTypeName(xt))
		}
		items := list.AsList().Elements()
		if len(items) > MaxListItems {
			return "", t.refuse(list, "the list has %d items; at most %d are allowed", len(items), MaxListItems)
		}
		if len(list.AsList().OptionalIndices()) > 0 {
			return "", t.refuse(list, "optional list items are not supported")
		}
		left, err := t.expr(x)
		if err != nil {
			return "", err
		}
		if len(items) == 0 {
			return "false", nil
		}
		var sqls []string
		literals := true
		for _, item := range items {
			if it := t.typeOf(item); !it.IsExactType(xt) {
				return "", t.refuse(item, "the items of the list must be of the type of %s, %s, not %s", describeExpr(x), celTypeName(xt), celTypeName(it))
			}
			s, err := t.expr(item)
			if err != nil {
				return "", err
			}
			sqls = append(sqls, s)
			literals = literals && item.Kind() == ast.LiteralKind
		}
		if literals {
			return "(" + left + " IN (" + strings.Join(sqls, ", ") + "))", nil
		}
		for i, s := range sqls {
			sqls[i] = "(" + left + " = " + s + ")"
		}
		return "(" + strings.Join(sqls, " OR ") + ")", nil
	case t.typeOf(list).Kind() == types.MapKind:
		json, jpath, err := t.mapField(list)
		if err != nil {
			return "", err
		}
		key, err := t.stringArg(x)
		if err != nil {
			return "", err
		}
		return "JSONHas(" + json + ", " + jpath + ", " + key + ")", nil
	case t.typeOf(list).Kind() == types.ListKind && fieldPath(list) != "":
		if xt.Kind() != types.StringKind {
			return "", t.refuse(x, "expected a string here, not %s", celTypeName(xt))
		}
		f, err := t.fieldOf(list)
		if err != nil {
			return "", err
		}
		item, err := t.expr(x)
		if err != nil {
			return "", err
		}
		return "has(" + f.SQL + ", " + item + ")", nil
	}
	if err := t.explain(list); err != nil {
		return "", err
	}
	return "", t.refuse(list, "the right side of in must be a list literal, a list field (sourceIPs, user.groups) or annotations")
}

// matches translates s.matches('re'), with a literal pattern.
func (t *translator) matches(e, s, re ast.Expr) (string, error) {
	str, err := t.stringArg(s)
	if err != nil {
		return "", err
	}
	lit, ok := re.AsLiteral().(types.String)
	if re.Kind() != ast.LiteralKind || !ok {
		return "", t.refuse(re, "the pattern of matches() must be a string literal")
	}
	pattern := string(lit)
	if len(pattern) > MaxPatternBytes {
		return "", t.refuse(re, "the pattern is %d bytes long; at most %d are allowed", len(pattern), MaxPatternBytes)
	}
	if _, err := regexp.Compile(pattern); err != nil {
		return "", t.refuse(re, "the pattern is not an RE2 regular expression: %v", err)
	}
	// ClickHouse's match lets . match a newline (s); CEL's RE2 does not: (?-s) gives CEL's default,
	// and a pattern that sets (?s) still can.
	p, err := t.stringParam(re, "(?-s)"+pattern)
	if err != nil {
		return "", err
	}
	return "match(" + str + ", " + p + ")", nil
}

// size translates size(x) of a string, a list field or a map field.
func (t *translator) size(e, x ast.Expr) (string, error) {
	switch t.typeOf(x).Kind() {
	case types.StringKind:
		s, err := t.expr(x)
		if err != nil {
			return "", err
		}
		return "toInt64(lengthUTF8(" + s + "))", nil
	case types.ListKind:
		if fieldPath(x) == "" {
			if err := t.explain(x); err != nil {
				return "", err
			}
			return "", t.refuse(x, "size() takes a string, a list field or annotations, not a list literal")
		}
		s, err := t.expr(x)
		if err != nil {
			return "", err
		}
		return "toInt64(length(" + s + "))", nil
	case types.MapKind:
		json, jpath, err := t.mapField(x)
		if err != nil {
			return "", err
		}
		return "toInt64(length(JSONExtractKeys(" + json + ", " + jpath + ")))", nil
	}
	return "", t.refuse(x, "size() takes a string, a list field or annotations, not %s", celTypeName(t.typeOf(x)))
}

// timeValue binds the value of e, a timestamp expression that reads no field of the event, evaluated
// with now.
func (t *translator) timeValue(e ast.Expr) (string, error) {
	prog, ok := t.f.times[e.ID()]
	if !ok {
		if t.env == nil {
			return "", t.refuse(e, "internal error: the time expression was not compiled")
		}
		if err := t.checkTime(e); err != nil {
			return "", err
		}
		src, err := parser.Unparse(e, t.f.ast.SourceInfo())
		if err != nil {
			return "", t.refuse(e, "cannot evaluate this time expression: %v", err)
		}
		checked, iss := t.env.Compile(src)
		if iss.Err() != nil {
			return "", t.refuse(e, "cannot evaluate this time expression: %v", iss.Err())
		}
		prog, err = t.env.Program(checked, cel.CostLimit(1000))
		if err != nil {
			return "", t.refuse(e, "cannot evaluate this time expression: %v", err)
		}
		t.f.times[e.ID()] = prog
	}
	out, _, err := prog.Eval(map[string]any{nowVariable: t.now})
	if err != nil {
		return "", t.refuse(e, "cannot evaluate this time expression: %v", err)
	}
	ts, ok := out.(types.Timestamp)
	if !ok {
		return "", t.refuse(e, "this time expression is a %s, not a timestamp", out.Type())
	}
	return t.timeParam(e, ts.Time)
}

// checkTime refuses what a time expression may not hold: anything but now, timestamp('...'),
// duration('...'), + and -.
func (t *translator) checkTime(e ast.Expr) error {
	switch e.Kind() {
	case ast.IdentKind:
		if e.AsIdent() == nowVariable {
			return nil
		}
	case ast.CallKind:
		c := e.AsCall()
		fn := c.FunctionName()
		switch fn {
		case "timestamp", "duration":
			args := c.Args()
			if !c.IsMemberFunction() && len(args) == 1 && args[0].Kind() == ast.LiteralKind {
				if s, ok := args[0].AsLiteral().(types.String); ok {
					if len(s) > 64 {
						return t.refuse(args[0], "the text of %s() is too long", fn)
					}
					return nil
				}
			}
			return t.refuse(e, "%s() takes a string literal, as in %s", fn, map[string]string{
				"timestamp": "timestamp('2026-01-01T00:00:00Z')", "duration": "duration('1h30m')"}[fn])
		case "_+_", "_-_":
			for _, a := range c.Args() {
				if err := t.checkTime(a); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return t.refuse(e, "a time expression can only use now, timestamp('RFC 3339'), duration('1h') and + or -, "+
		"as in stageTimestamp > now - duration('1h')")
}

// The range of DateTime64: a time beyond it cannot be a parameter.
var (
	minDateTime  = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDateTime6 = time.Date(2299, 12, 31, 23, 59, 59, 999999000, time.UTC)
	maxDateTime9 = time.Date(2262, 4, 11, 23, 47, 16, 0, time.UTC)
	formatDT6    = "2006-01-02 15:04:05.000000"
	formatDT9    = "2006-01-02 15:04:05.000000000"
)

// timeParam binds ts: as a DateTime64(6, 'UTC'), the type of the table's times, or DateTime64(9,
// 'UTC') when it has nanoseconds, so that comparisons are exact.
func (t *translator) timeParam(e ast.Expr, ts time.Time) (string, error) {
	ts = ts.UTC()
	if ts.Nanosecond()%1000 == 0 {
		if ts.Before(minDateTime) || ts.After(maxDateTime6) {
			return "", t.refuse(e, "the time %s is out of the range of the table's times (%s to %s)",
				ts.Format(time.RFC3339Nano), minDateTime.Format(time.RFC3339), maxDateTime6.Format(time.RFC3339Nano))
		}
		return t.p.Add("DateTime64(6, 'UTC')", ts.Format(formatDT6)), nil
	}
	if ts.Before(minDateTime) || ts.After(maxDateTime9) {
		return "", t.refuse(e, "the time %s, with nanoseconds, is out of the range of DateTime64(9) (%s to %s)",
			ts.Format(time.RFC3339Nano), minDateTime.Format(time.RFC3339), maxDateTime9.Format(time.RFC3339))
	}
	return t.p.Add("DateTime64(9, 'UTC')", ts.Format(formatDT9)), nil
}
