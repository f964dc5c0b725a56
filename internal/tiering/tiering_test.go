package tiering

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/golden"
)

func cold(cache string) *v1alpha1.StorageSpec {
	c := &v1alpha1.ColdStorageSpec{
		Endpoint: "https://s3.eu-west-1.amazonaws.com/", Bucket: "audit-cold", Path: "clickhouse/prod/",
		Region: "eu-west-1", CredentialsSecretRef: v1alpha1.SecretReference{Name: "s3"},
		MoveAfter: metav1.Duration{Duration: 90 * 24 * time.Hour},
	}
	if cache != "" {
		c.CacheSize = ptr.To(resource.MustParse(cache))
	}
	return &v1alpha1.StorageSpec{Cold: c}
}

func TestStorageXML(t *testing.T) {
	cases := map[string]*v1alpha1.ClickHouseSpec{
		"storage_hot_only.xml":    {},
		"storage_s3_cache.xml":    {Storage: cold("10Gi")},
		"storage_s3_no_cache.xml": {Storage: cold("0")},
	}
	for name, spec := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := StorageXML(spec)
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, name, out)
		})
	}
}

func TestStorageXMLNeverHoldsSecrets(t *testing.T) {
	out, err := StorageXML(&v1alpha1.ClickHouseSpec{Storage: cold("10Gi")})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<access_key_id from_env="AWS_ACCESS_KEY_ID"></access_key_id>`,
		`<secret_access_key from_env="AWS_SECRET_ACCESS_KEY"></secret_access_key>`} {
		if !contains(out, want) {
			t.Errorf("storage.xml lacks %s:\n%s", want, out)
		}
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }

func TestTTL(t *testing.T) {
	year := metav1.Duration{Duration: 365 * 24 * time.Hour}
	cases := []struct {
		name string
		spec *v1alpha1.ClickHouseSpec
		want string
	}{
		{"nothing", &v1alpha1.ClickHouseSpec{}, ""},
		{"move only", &v1alpha1.ClickHouseSpec{Storage: cold("")}, "ts + toIntervalDay(90) TO VOLUME 'cold'"},
		{"delete only", &v1alpha1.ClickHouseSpec{Retention: &v1alpha1.RetentionSpec{DeleteAfter: &year}},
			"ts + toIntervalDay(365) DELETE"},
		{"move then delete", &v1alpha1.ClickHouseSpec{Storage: cold(""), Retention: &v1alpha1.RetentionSpec{DeleteAfter: &year}},
			"ts + toIntervalDay(90) TO VOLUME 'cold', ts + toIntervalDay(365) DELETE"},
		{"tenants", &v1alpha1.ClickHouseSpec{Storage: cold(""), Retention: &v1alpha1.RetentionSpec{DeleteAfter: &year, Tenants: []v1alpha1.TenantRetention{
			{Tenant: "team-a", DeleteAfter: metav1.Duration{Duration: 30 * 24 * time.Hour}},
			{Tenant: "o'b\\", TenantType: "Project", DeleteAfter: metav1.Duration{Duration: 10 * 365 * 24 * time.Hour}},
		}}},
			"ts + toIntervalDay(90) TO VOLUME 'cold', " +
				"ts + toIntervalDay(365) DELETE WHERE NOT (tenant = 'team-a' OR (tenant_type = 'Project') AND (tenant = 'o\\'b\\\\')), " +
				"ts + toIntervalDay(30) DELETE WHERE tenant = 'team-a', " +
				"ts + toIntervalDay(3650) DELETE WHERE (tenant_type = 'Project') AND (tenant = 'o\\'b\\\\')"},
		{"tenants without a default", &v1alpha1.ClickHouseSpec{Retention: &v1alpha1.RetentionSpec{Tenants: []v1alpha1.TenantRetention{
			{Tenant: "", DeleteAfter: metav1.Duration{Duration: 24 * time.Hour}}}}},
			"ts + toIntervalDay(1) DELETE WHERE tenant = ''"},
	}
	for _, tc := range cases {
		// The recompression in merges leads every TTL.
		tc.want = strings.TrimSuffix("ts RECOMPRESS CODEC(ZSTD(6)), "+tc.want, ", ")
		if got := TTL(tc.spec, "ts"); got != tc.want {
			t.Errorf("%s: TTL = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestInterval(t *testing.T) {
	for d, want := range map[time.Duration]string{
		48 * time.Hour:   "toIntervalDay(2)",
		36 * time.Hour:   "toIntervalHour(36)",
		90 * time.Minute: "toIntervalMinute(90)",
		61 * time.Second: "toIntervalSecond(61)",
	} {
		if got := Interval(d); got != want {
			t.Errorf("Interval(%s) = %s, want %s", d, got, want)
		}
	}
}
