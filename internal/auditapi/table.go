package auditapi

import (
	"encoding/json"
	"fmt"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	auditv1alpha1 "github.com/auditpipeline/auditpipeline-operator/api/audit/v1alpha1"
)

// columns are those of the plugin's table (cmd/kubectl-auditpipeline), NAME (the audit ID) last and wide
// only; kubectl adds NAMESPACE for a list across namespaces.
var columns = []metav1.TableColumnDefinition{
	{Name: "Timestamp", Type: "string", Format: "date-time", Description: "stageTimestamp: when the API server answered"},
	{Name: "Verb", Type: "string", Description: "verb"},
	{Name: "User", Type: "string", Description: "user.username"},
	{Name: "Resource", Type: "string", Description: "objectRef.resource (and subresource), or the request URI"},
	{Name: "Object", Type: "string", Description: "objectRef.name"},
	{Name: "Status", Type: "integer", Description: "responseStatus.code"},
	{Name: "Name", Type: "string", Format: "name", Priority: 1, Description: "the event's auditID"},
}

// summary is what the table shows of an event.
type summary struct {
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Name        string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	StageTimestamp string `json:"stageTimestamp"`
}

func eventTable(obj runtime.Object) (*metav1.Table, error) {
	t := &metav1.Table{ColumnDefinitions: columns}
	var items []auditv1alpha1.AuditEvent
	switch o := obj.(type) {
	case *auditv1alpha1.AuditEventList:
		items = o.Items
		t.Continue = o.Continue
	case *auditv1alpha1.AuditEvent:
		items = []auditv1alpha1.AuditEvent{*o}
	default:
		return nil, fmt.Errorf("no table for %T", obj)
	}
	for i := range items {
		e := &items[i]
		var s summary
		if err := json.Unmarshal(e.Event.Raw, &s); err != nil {
			return nil, fmt.Errorf("audit event %s: %w", e.Name, err)
		}
		resource, object, code := s.RequestURI, "<none>", "<none>"
		if s.ObjectRef != nil {
			resource = s.ObjectRef.Resource
			if s.ObjectRef.Subresource != "" {
				resource += "/" + s.ObjectRef.Subresource
			}
			if s.ObjectRef.Name != "" {
				object = s.ObjectRef.Name
			}
		}
		if s.ResponseStatus != nil {
			code = strconv.Itoa(s.ResponseStatus.Code)
		}
		t.Rows = append(t.Rows, metav1.TableRow{
			Cells:  []any{s.StageTimestamp, s.Verb, orNone(s.User.Username), orNone(resource), object, code, e.Name},
			Object: runtime.RawExtension{Object: e},
		})
	}
	return t, nil
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
