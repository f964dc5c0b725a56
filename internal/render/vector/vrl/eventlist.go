package vrl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// The collector reads each webhook request body, an audit.k8s.io EventList, as bytes and decodes it in
// its split_event_list remap (SplitEventListProgram), not in its source. Vector decodes JSON with
// serde_json, which refuses a number beyond a double's range (1e400, an integer of 310 digits) and JSON
// nested 128 levels deep or more (checked on serde_json 1.0.87). kube-apiserver records a request's body
// as the client sent it (test/kind: a merge patch holding 1e400, which the API server itself refuses to
// apply, and one nested 131 levels deep), so one such request, from anyone allowed to send it, made a
// source that decodes JSON answer the whole batch 400, and the API server dropped the batch after five
// posts.
//
// The remap decodes the body whole when serde_json can. When it cannot, it reads the list with each of
// its events as text (VRL's parse_json with max_depth keeps what lies deeper as its raw JSON text, which
// serde_json reads without decoding numbers or counting levels), and decodes each event on its own, so
// that the others come out exactly as a whole decode gives them. An event that cannot be decoded whole
// is read member by member: its members that hold objects or arrays (rawMembers) are decoded one by one,
// and one that still cannot be decoded (the request or response body that holds the number) is kept as
// a JSON string of its text, as the API server wrote it. Only an event that cannot be read even so (its
// own top-level member is such a number, which the API server never writes) is dropped, with an error
// log, and only a body that is not an EventList is dropped whole.
//
// SplitEventList is the remap's Go twin, which the tests hold to what a real kube-apiserver sends.

// rawMembers are the members of an audit.k8s.io/v1 Event that hold objects or arrays.
var rawMembers = []string{"user", "impersonatedUser", "objectRef", "sourceIPs", "responseStatus",
	"requestObject", "responseObject", "annotations"}

// serdeMaxDepth is the deepest nesting of arrays and objects serde_json decodes (128 is refused).
const serdeMaxDepth = 127

// SplitEventListProgram is the collector's split_event_list remap: the body of one webhook request in,
// its audit events out.
func SplitEventListProgram() string { return splitEventListProgram }

var splitEventListProgram = func() string {
	var members bytes.Buffer
	for _, m := range rawMembers {
		fmt.Fprintf(&members, "        if is_string(event.%[1]s) {\n          event.%[1]s = parse_json(event.%[1]s) ?? event.%[1]s\n        }\n", m)
	}
	return `body, err = parse_json(.message)
if err == null {
  items, err = array(body.items)
} else {
  # serde_json refuses a number beyond a double's range and JSON nested 128 levels deep, which a
  # recorded request body can hold: read the events as text and decode each one on its own.
  body, err = parse_json(.message, max_depth: 2)
  if err == null {
    items, err = array(body.items)
  }
  if err == null {
    items = map_values(items) -> |text| {
      event, event_err = parse_json(text)
      if event_err != null {
        # Its members one by one: one that still cannot be decoded stays the text the API server wrote.
        event = object(parse_json(text, max_depth: 1) ?? null) ?? null
` + members.String() + `      }
      event
    }
    kept = filter(items) -> |_index, item| { item != null }
    if length(kept) < length(items) {
      log("dropped an audit event that cannot be decoded even member by member", level: "error", rate_limit_secs: 60)
    }
    items = kept
  }
}
if err != null {
  log("dropped a webhook request body that is not an audit EventList", level: "error", rate_limit_secs: 60)
  abort
}
. = items
`
}()

// SplitEventList is the Go twin of SplitEventListProgram: the events the collector makes of one webhook
// request body, numbers kept as json.Number, members it keeps as text as strings. dropped counts the
// events it could not read even member by member. A body that is not an EventList is an error.
func SplitEventList(body []byte) (events []map[string]any, dropped int, err error) {
	if v, ok := serdeDecode(body); ok {
		root, _ := v.(map[string]any)
		items, ok := root["items"].([]any)
		if !ok {
			return nil, 0, errNotEventList
		}
		for _, it := range items {
			ev, err := asEvent(it)
			if err != nil {
				return nil, 0, err
			}
			events = append(events, ev)
		}
		return events, 0, nil
	}
	var root map[string]json.RawMessage
	if err := json.Unmarshal(body, &root); err != nil {
		return nil, 0, errNotEventList
	}
	var items []json.RawMessage
	if err := json.Unmarshal(root["items"], &items); err != nil {
		return nil, 0, errNotEventList
	}
	for _, text := range items {
		if v, ok := serdeDecode(text); ok {
			ev, err := asEvent(v)
			if err != nil {
				return nil, 0, err
			}
			events = append(events, ev)
			continue
		}
		ev, ok := decodeMembers(text)
		if !ok {
			dropped++
			continue
		}
		events = append(events, ev)
	}
	return events, dropped, nil
}

var errNotEventList = errors.New("not an audit EventList")

// asEvent is an item of the list as an event: the twin models objects only.
func asEvent(item any) (map[string]any, error) {
	ev, ok := item.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("an item of type %T: the twin models objects only", item)
	}
	return ev, nil
}

// decodeMembers reads an event member by member, as parse_json(text, max_depth: 1) and the remap's
// decoding of rawMembers do: false when a member that is not an object or an array cannot be decoded.
func decodeMembers(text []byte) (map[string]any, bool) {
	var members map[string]json.RawMessage
	if json.Unmarshal(text, &members) != nil {
		return nil, false
	}
	ev := make(map[string]any, len(members))
	for k, raw := range members {
		raw = bytes.TrimSpace(raw)
		if len(raw) > 0 && (raw[0] == '{' || raw[0] == '[') {
			// parse_json with max_depth gives an object or array beyond it as its text.
			ev[k] = string(raw)
			continue
		}
		v, ok := serdeDecode(raw)
		if !ok {
			return nil, false
		}
		ev[k] = v
	}
	for _, m := range rawMembers {
		text, ok := ev[m].(string)
		if !ok {
			continue
		}
		if v, ok := serdeDecode([]byte(text)); ok {
			ev[m] = v
		}
	}
	return ev, true
}

// serdeDecode decodes one JSON value as serde_json does, numbers kept as json.Number: false where
// serde_json refuses it (a number beyond a double's range, nesting of more than serdeMaxDepth levels).
func serdeDecode(text []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err == nil {
		return nil, false // more than one value
	}
	return v, serdeAccepts(v, 0)
}

func serdeAccepts(v any, depth int) bool {
	var children []any
	switch t := v.(type) {
	case map[string]any:
		for _, e := range t {
			children = append(children, e)
		}
	case []any:
		children = t
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		return !math.IsInf(f, 0) && (err == nil || errors.Is(err, strconv.ErrRange))
	default:
		return true
	}
	if depth+1 > serdeMaxDepth {
		return false
	}
	for _, e := range children {
		if !serdeAccepts(e, depth+1) {
			return false
		}
	}
	return true
}
