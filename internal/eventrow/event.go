package eventrow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Event puts the whole audit event back together from a row read from the table: the Go twin of the
// views' `event` (migrations/00001_events.sql, event_json), for readers that are Go programs (the plugin,
// the audit API). It gives the same JSON value as the view, not the same bytes: the view writes every
// value anew (1.10 as 1.1), this keeps rest's text. The members the columns hold come first, in the view's order; rest is merged over them
// as ClickHouse's JSONMergePatch merges: a member of rest replaces the column's, except that two objects
// merge member by member. rest's values keep their text as stored. The server's expression costs a
// query about 6 ms to analyse and 12 to 13 µs an event; this costs the reader a few µs an event
// (docs/schema.md#whole-events).
func (r *Row) Event() ([]byte, error) {
	var head object
	head.set("kind", str("Event"))
	head.set("apiVersion", str("audit.k8s.io/v1"))
	if r.Level != "" {
		head.set("level", str(r.Level))
	}
	if id := r.AuditID.String(); id != NilUUID {
		head.set("auditID", str(id))
	}
	if r.Stage != "" {
		head.set("stage", str(r.Stage))
	}
	if r.Verb != "" {
		head.set("verb", str(r.Verb))
	}
	if r.User != "" || r.UserUID != "" {
		var u object
		u.setIf("username", r.User)
		u.setIf("uid", r.UserUID)
		head.set("user", u.json())
	}
	if r.APIGroup != "" || r.Resource != "" || r.Subresource != "" || r.Namespace != "" || r.Name != "" {
		var o object
		o.setIf("apiGroup", r.APIGroup)
		o.setIf("resource", r.Resource)
		o.setIf("subresource", r.Subresource)
		o.setIf("namespace", r.Namespace)
		o.setIf("name", r.Name)
		head.set("objectRef", o.json())
	}
	if r.ResponseCode != 0 {
		head.set("responseStatus", json.RawMessage(`{"code":`+strconv.Itoa(int(r.ResponseCode))+`}`))
	}
	t := r.EventTime.UTC()
	// In microseconds, not a Duration, which overflows past 292 years.
	received := time.UnixMicro(t.UnixMicro() - int64(r.LatencyUS)).UTC()
	head.set("requestReceivedTimestamp", str(received.Format(microTimeLayout)))
	head.set("stageTimestamp", str(t.Format(microTimeLayout)))
	rest, err := parseObject([]byte(r.Rest))
	if err != nil {
		return nil, fmt.Errorf("rest of audit event %s: %w", r.AuditID, err)
	}
	if err := head.merge(rest); err != nil {
		return nil, fmt.Errorf("rest of audit event %s: %w", r.AuditID, err)
	}
	return head.json(), nil
}

// member is one member of a JSON object, its value as JSON text.
type member struct {
	key   string
	value json.RawMessage
}

// object is a JSON object with its members in order.
type object []member

func (o *object) set(key string, v json.RawMessage) {
	for i := range *o {
		if (*o)[i].key == key {
			(*o)[i].value = v
			return
		}
	}
	*o = append(*o, member{key, v})
}

func (o *object) setIf(key, v string) {
	if v != "" {
		o.set(key, str(v))
	}
}

// merge merges src over o as JSONMergePatch does.
func (o *object) merge(src object) error {
	for _, m := range src {
		i := o.index(m.key)
		if i < 0 {
			*o = append(*o, m)
			continue
		}
		dst := (*o)[i].value
		if isObject(dst) && isObject(m.value) {
			d, err := parseObject(dst)
			if err != nil {
				return err
			}
			s, err := parseObject(m.value)
			if err != nil {
				return err
			}
			if err := d.merge(s); err != nil {
				return err
			}
			(*o)[i].value = d.json()
			continue
		}
		(*o)[i].value = m.value
	}
	return nil
}

func (o object) index(key string) int {
	for i, m := range o {
		if m.key == key {
			return i
		}
	}
	return -1
}

func (o object) json() json.RawMessage {
	n := 2
	for _, m := range o {
		n += len(m.key) + len(m.value) + 4
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, str(m.key)...)
		b = append(b, ':')
		b = append(b, m.value...)
	}
	return append(b, '}')
}

// str is s as a JSON string, without HTML escaping.
func str(s string) json.RawMessage {
	if plain(s) {
		b := make([]byte, 0, len(s)+2)
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimRight(b.Bytes(), "\n")
}

// plain is whether s is printable ASCII without '"' or '\\': its JSON string is s in quotes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func isObject(v json.RawMessage) bool {
	v = bytes.TrimLeft(v, " \t\r\n")
	return len(v) > 0 && v[0] == '{'
}

// parseObject reads a JSON object's members in order, each value's text as it is. rest is JSON that
// encode_json wrote, so this scanner only finds the members' bounds (strings, nesting) and leaves the
// values' validation to whoever reads them: json.Decoder took 30 µs an event (docs/schema.md#whole-events).
func parseObject(b []byte) (object, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	var o object
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return o, trailing(b, i+1)
	}
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return nil, fmt.Errorf("a member without a name at byte %d", i)
		}
		end, err := skipString(b, i)
		if err != nil {
			return nil, err
		}
		key := string(b[i+1 : end-1])
		if !plain(key) {
			if err := json.Unmarshal(b[i:end], &key); err != nil {
				return nil, fmt.Errorf("member name at byte %d: %w", i, err)
			}
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, fmt.Errorf("no ':' after member %q", key)
		}
		i = skipSpace(b, i+1)
		vend, err := skipValue(b, i)
		if err != nil {
			return nil, fmt.Errorf("member %q: %w", key, err)
		}
		o = append(o, member{key, json.RawMessage(b[i:vend])})
		i = skipSpace(b, vend)
		if i >= len(b) {
			return nil, fmt.Errorf("the object does not end")
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return o, trailing(b, i+1)
		default:
			return nil, fmt.Errorf("unexpected %q at byte %d", b[i], i)
		}
	}
}

func trailing(b []byte, i int) error {
	if skipSpace(b, i) != len(b) {
		return fmt.Errorf("text after the JSON object")
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i] ('"').
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			break
		}
		q := j + k
		// The quote ends the string unless an odd number of backslashes escapes it.
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, nil
		}
		j = q + 1
	}
	return 0, fmt.Errorf("a string does not end")
}

// skipValue returns the index after the value that starts at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, fmt.Errorf("no value")
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("an object or array does not end")
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return 0, fmt.Errorf("no value at byte %d", i)
	}
	return j, nil
}
