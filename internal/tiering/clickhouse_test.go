package tiering

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
)

// TestTieringOnARealServer loads the rendered storage.xml into a real ClickHouse whose cold disk is an
// in-process S3 server on loopback, creates a table with the rendered TTL, and shows old events move
// to the cold volume: parts on the cached S3 disk, objects in the bucket under the configured prefix.
func TestTieringOnARealServer(t *testing.T) {
	backend := s3mem.New()
	s3 := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(s3.Close)
	if err := backend.CreateBucket("audit-cold"); err != nil {
		t.Fatal(err)
	}
	year := metav1.Duration{Duration: 365 * 24 * time.Hour}
	spec := &v1alpha1.ClickHouseSpec{
		Storage: &v1alpha1.StorageSpec{Cold: &v1alpha1.ColdStorageSpec{
			Endpoint: s3.URL, Bucket: "audit-cold", Path: "clickhouse/test/",
			CacheSize: ptr.To(resource.MustParse("100Mi")), MoveAfter: metav1.Duration{Duration: 24 * time.Hour},
		}},
		Retention: &v1alpha1.RetentionSpec{DeleteAfter: &year},
	}
	xml, err := StorageXML(spec)
	if err != nil {
		t.Fatal(err)
	}
	// The rendered paths are a ClickHouse pod's; the test server keeps its disks inside its own directory.
	local := strings.ReplaceAll(string(xml), dataPath, "data/")
	srv := chtest.New(t, chtest.Options{ConfigXML: local,
		Env: []string{EnvAccessKeyID + "=test-key", EnvSecretAccessKey + "=test-secret"}})
	db, conn := srv.NewDatabase(t)
	ctx := context.Background()

	ddl := "CREATE TABLE " + db + ".events (ts DateTime64(3), verb LowCardinality(String)) ENGINE = MergeTree " +
		"PARTITION BY toYYYYMM(ts) ORDER BY ts TTL " + TTL(spec, "toDateTime(ts)") +
		" SETTINGS storage_policy = '" + PolicyName + "'"
	if err := conn.Exec(ctx, ddl); err != nil {
		t.Fatalf("%s: %v", ddl, err)
	}
	insert := "INSERT INTO " + db + ".events VALUES (now64() - INTERVAL 3 DAY, 'create'), (now64() - INTERVAL 2 YEAR, 'delete'), (now64(), 'get')"
	if err := conn.Exec(ctx, insert); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "ALTER TABLE "+db+".events MATERIALIZE TTL SETTINGS mutations_sync = 2"); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "OPTIMIZE TABLE "+db+".events FINAL"); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		rows, err := conn.Query(ctx, "SELECT disk_name, rows FROM system.parts WHERE database = ? AND table = 'events' AND active ORDER BY disk_name", db)
		if err != nil {
			t.Fatal(err)
		}
		var disks []string
		for rows.Next() {
			var disk string
			var n uint64
			if err := rows.Scan(&disk, &n); err != nil {
				t.Fatal(err)
			}
			disks = append(disks, disk)
		}
		_ = rows.Close()
		if strings.Contains(strings.Join(disks, ","), ColdCacheDisk) && strings.Contains(strings.Join(disks, ","), "default") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("old events did not move to the cold volume: active parts on %v", disks)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var total uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".events").Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != 2 {
		t.Errorf("events after TTL = %d, want 2 (the 2-year-old one deleted)", total)
	}
	objects, err := backend.ListBucket("audit-cold", &gofakes3.Prefix{Prefix: "clickhouse/test/", HasPrefix: true}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	if len(objects.Contents) == 0 {
		t.Errorf("no objects were written under clickhouse/test/ in the bucket")
	}
}
