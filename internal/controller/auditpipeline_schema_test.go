package controller

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
	"github.com/auditpipeline/auditpipeline-operator/internal/retention"
	"github.com/auditpipeline/auditpipeline-operator/internal/testkit/chtest"
	"github.com/auditpipeline/auditpipeline-operator/internal/tiering"
)

// pipelineOn is a pipeline whose external ClickHouse is srv, logging in as its password-less default
// user (a wrong password would make the test server abort), with the given database.
func pipelineOn(t testing.TB, srv *chtest.Server, ns, name, database string) *v1alpha1.AuditPipeline {
	t.Helper()
	host, port, err := net.SplitHostPort(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	nativePort, _ := strconv.Atoi(port)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "clickhouse-auth", Namespace: ns},
		Data: map[string][]byte{"password": {}}}
	if err := k8s.Create(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	p := pipeline(ns, name)
	p.Spec.ClickHouse.Credentials.Username = "default"
	p.Spec.ClickHouse.External.Hosts = []string{host}
	p.Spec.ClickHouse.External.NativePort = int32(nativePort)
	p.Spec.ClickHouse.Database = database
	return p
}

// poke makes the reconciler look at p again without changing its spec.
func poke(g Gomega, p *v1alpha1.AuditPipeline, value string) {
	updatePipeline(g, p, func(cur *v1alpha1.AuditPipeline) {
		if cur.Annotations == nil {
			cur.Annotations = map[string]string{}
		}
		cur.Annotations["test/poke"] = value
	})
}

func TestSchemaIsMigratedRecordedAndGuarded(t *testing.T) {
	ms, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	latest := ms[len(ms)-1].Version
	srv := chtest.New(t, chtest.Options{Keeper: true})
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	p := pipelineOn(t, srv, ns, "schema", "audit_schema")
	g.Expect(k8s.Create(ctx, p)).To(Succeed())

	// Every embedded migration is applied and recorded with its checksum, in status and in ClickHouse.
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionSchemaReady)).To(Equal("True/" + v1alpha1.ReasonApplied))
		s := cur.Status.Schema
		g.Expect(s).NotTo(BeNil())
		g.Expect(s.CurrentVersion).To(Equal(latest))
		g.Expect(s.TargetVersion).To(Equal(latest))
		g.Expect(s.Summary).To(Equal(fmt.Sprintf("%d/%d", latest, latest)))
		g.Expect(s.Applied).To(HaveLen(len(ms)))
		for i, a := range s.Applied {
			g.Expect(a.Version).To(Equal(ms[i].Version))
			g.Expect(a.Name).To(Equal(ms[i].Name))
			g.Expect(a.Checksum).To(Equal(ms[i].Checksum))
			g.Expect(a.AppliedAt.IsZero()).To(BeFalse())
		}
		g.Expect(s.Pending).To(BeEmpty())
		g.Expect(s.LastError).To(BeEmpty())
	}, timeout, interval).Should(Succeed())
	conn, err := srv.Conn("default")
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = conn.Close() })
	var tables uint64
	g.Expect(conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = 'audit_schema' AND name = 'events'").Scan(&tables)).To(Succeed())
	g.Expect(tables).To(Equal(uint64(1)))

	// Each applied version was announced with an Event.
	g.Eventually(func(g Gomega) {
		var evs eventsv1.EventList
		g.Expect(k8s.List(ctx, &evs, client.InNamespace(ns))).To(Succeed())
		n := 0
		for _, e := range evs.Items {
			if e.Regarding.Name == p.Name && e.Reason == v1alpha1.ReasonApplied && e.Action == "Migrate" {
				n++
			}
		}
		g.Expect(n).To(Equal(len(ms)))
	}, timeout, interval).Should(Succeed())

	// Retention is reconciled on the live tables: the recompression in merges only until the spec asks
	// for more, then exactly that.
	updatePipeline(g, p, func(cur *v1alpha1.AuditPipeline) {
		g.Expect(cur.Status.ClickHouse.TTL).To(Equal(recompress))
		cur.Spec.ClickHouse.Retention = &v1alpha1.RetentionSpec{DeleteAfter: &metav1.Duration{Duration: 365 * 24 * time.Hour}}
	})
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(cur.Status.ClickHouse.TTL).To(Equal(recompress + ", toDateTime(event_time) + toIntervalDay(365)"))
		for _, table := range []string{"events", "changes"} {
			var engine string
			g.Expect(conn.QueryRow(ctx, "SELECT engine_full FROM system.tables WHERE database = 'audit_schema' AND name = ?", table).Scan(&engine)).To(Succeed())
			g.Expect(engine).To(ContainSubstring(" TTL "+recompress+", toDateTime(event_time) + toIntervalDay(365) "), table)
		}
	}, timeout, interval).Should(Succeed())

	// Someone changes what the database says was applied: the operator refuses to go on and stalls.
	g.Expect(conn.Exec(ctx, "INSERT INTO audit_schema.schema_migrations_checksums (version, name, checksum, applied_at, duration_ms, applied_by) "+
		"VALUES (1, ?, 'sha256:0000', now64(3) + 1, 0, 'test')", ms[0].Name)).To(Succeed())
	poke(g, p, "checksum")
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionSchemaReady)).To(Equal("False/" + v1alpha1.ReasonChecksumMismatch))
		g.Expect(conditionOf(cur, v1alpha1.ConditionStalled)).To(Equal("True/" + v1alpha1.ReasonChecksumMismatch))
		c := apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionSchemaReady)
		g.Expect(c.Message).To(ContainSubstring(ms[0].Name))
		g.Expect(cur.Status.Schema.LastError).NotTo(BeEmpty())
	}, timeout, interval).Should(Succeed())
}

func TestSchemaTargetBeyondTheShippedMigrationsStalls(t *testing.T) {
	srv := chtest.New(t, chtest.Options{})
	g := NewWithT(t)
	ns := newNamespace(t)
	p := pipelineOn(t, srv, ns, "target", "audit_target")
	p.Spec.Schema.TargetVersion = "9999"
	g.Expect(k8s.Create(context.Background(), p)).To(Succeed())
	g.Eventually(func(g Gomega) {
		cur, err := fetch(p)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionSchemaReady)).To(Equal("False/" + v1alpha1.ReasonInvalidSpec))
		g.Expect(conditionOf(cur, v1alpha1.ConditionStalled)).To(HavePrefix("True/"))
		c := apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionSchemaReady)
		g.Expect(c.Message).To(ContainSubstring("spec.schema.targetVersion"))
	}, timeout, interval).Should(Succeed())
}

// A database the schema cannot live in, and a table of the schema's name that is not ours, stall the
// pipeline with their own reasons, and nothing is written into them.
func TestSchemaRefusesDatabasesAndTablesNotItsOwn(t *testing.T) {
	srv := chtest.New(t, chtest.Options{})
	g := NewWithT(t)
	ctx := context.Background()
	conn, err := srv.Conn("default")
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = conn.Close() })
	for _, stmt := range []string{
		"CREATE DATABASE audit_memory ENGINE = Memory",
		"CREATE DATABASE audit_foreign",
		"CREATE TABLE audit_foreign.events (note String) ENGINE = MergeTree ORDER BY note",
	} {
		g.Expect(conn.Exec(ctx, stmt)).To(Succeed())
	}
	cases := []struct{ database, reason, message string }{
		{"audit_memory", v1alpha1.ReasonDatabaseUnsupported, "database audit_memory has engine Memory"},
		{"audit_foreign", v1alpha1.ReasonSchemaConflict, "audit_foreign.events already exists but was not created by this schema's migrations"},
	}
	for _, tc := range cases {
		p := pipelineOn(t, srv, newNamespace(t), "refused", tc.database)
		g.Expect(k8s.Create(ctx, p)).To(Succeed())
		g.Eventually(func(g Gomega) {
			cur, err := fetch(p)()
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(conditionOf(cur, v1alpha1.ConditionSchemaReady)).To(Equal("False/" + tc.reason))
			g.Expect(conditionOf(cur, v1alpha1.ConditionStalled)).To(Equal("True/" + tc.reason))
			c := apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionSchemaReady)
			g.Expect(c.Message).To(ContainSubstring(tc.message))
		}, timeout, interval).Should(Succeed())
	}
	var memoryTables, foreignColumns uint64
	g.Expect(conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = 'audit_memory'").Scan(&memoryTables)).To(Succeed())
	g.Expect(memoryTables).To(BeZero(), "tables were created in the Memory database")
	g.Expect(conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = 'audit_foreign' AND table = 'events'").Scan(&foreignColumns)).To(Succeed())
	g.Expect(foreignColumns).To(Equal(uint64(1)), "the foreign events table was altered")
}

// Two pipelines writing into one database keep one TTL: the first to claim it owns it, and the other
// changes nothing and says so while its spec asks for another, until it is told to take it over.
func TestPipelinesSharingADatabaseKeepOneTTL(t *testing.T) {
	srv := chtest.New(t, chtest.Options{Keeper: true})
	g := NewWithT(t)
	ctx := context.Background()
	conn, err := srv.Conn("default")
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = conn.Close() })
	const database = "audit_shared"
	g.Expect(conn.Exec(ctx, "DROP DATABASE IF EXISTS "+database)).To(Succeed())
	days := func(n int) *v1alpha1.RetentionSpec {
		return &v1alpha1.RetentionSpec{DeleteAfter: &metav1.Duration{Duration: time.Duration(n) * 24 * time.Hour}}
	}
	liveTTLs := func(g Gomega) []string {
		var ttls []string
		for _, table := range []string{"events", "changes"} {
			var engine string
			g.Expect(conn.QueryRow(ctx, "SELECT engine_full FROM system.tables WHERE database = ? AND name = ?", database, table).Scan(&engine)).To(Succeed())
			ttls = append(ttls, engine[strings.Index(engine, " TTL ")+1:strings.Index(engine, " SETTINGS ")])
		}
		return ttls
	}
	schemaReady := func(p *v1alpha1.AuditPipeline) func(Gomega) string {
		return func(g Gomega) string {
			cur, err := fetch(p)()
			g.Expect(err).NotTo(HaveOccurred())
			return conditionOf(cur, v1alpha1.ConditionSchemaReady)
		}
	}
	var system corev1.Namespace
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: "kube-system"}, &system)).To(Succeed())

	a := pipelineOn(t, srv, newNamespace(t), "audit", database)
	a.Spec.ClickHouse.Retention = days(365)
	g.Expect(k8s.Create(ctx, a)).To(Succeed())
	g.Eventually(schemaReady(a), timeout, interval).Should(Equal("True/" + v1alpha1.ReasonApplied))
	year := []string{"TTL " + recompress + ", toDateTime(event_time) + toIntervalDay(365)", "TTL " + recompress + ", toDateTime(event_time) + toIntervalDay(365)"}
	g.Expect(liveTTLs(g)).To(Equal(year))
	aID := string(system.UID) + "/" + a.Namespace + "/" + a.Name

	// The same name in another namespace (or cluster) with a week: the tables keep a's year.
	b := pipelineOn(t, srv, newNamespace(t), "audit", database)
	b.Spec.ClickHouse.Retention = days(7)
	g.Expect(k8s.Create(ctx, b)).To(Succeed())
	g.Eventually(func(g Gomega) {
		cur, err := fetch(b)()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conditionOf(cur, v1alpha1.ConditionSchemaReady)).To(Equal("False/" + v1alpha1.ReasonRetentionConflict))
		g.Expect(conditionOf(cur, v1alpha1.ConditionStalled)).To(Equal("True/" + v1alpha1.ReasonRetentionConflict))
		c := apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionSchemaReady)
		g.Expect(c.Message).To(ContainSubstring("is also written into by the AuditPipeline " + aID + " (uid " + string(a.UID) + ")"))
		g.Expect(c.Message).To(ContainSubstring("the TTL in force is " + recompress + ", toDateTime(event_time) + toIntervalDay(365), this pipeline's spec asks for " + recompress + ", toDateTime(event_time) + toIntervalDay(7)"))
		g.Expect(c.Message).To(ContainSubstring(AnnotationAdoptRetention + "=" + aID))
		g.Expect(cur.Status.ClickHouse.TTL).To(Equal(recompress + ", toDateTime(event_time) + toIntervalDay(365)"))
	}, timeout, interval).Should(Succeed())
	g.Expect(liveTTLs(g)).To(Equal(year))
	poke(g, a, "after b")
	g.Consistently(schemaReady(a), 2*time.Second, interval).Should(Equal("True/" + v1alpha1.ReasonApplied))

	// With the owner's retention, b is content; with another, in conflict again.
	updatePipeline(g, b, func(cur *v1alpha1.AuditPipeline) { cur.Spec.ClickHouse.Retention = days(365) })
	g.Eventually(schemaReady(b), timeout, interval).Should(Equal("True/" + v1alpha1.ReasonApplied))
	updatePipeline(g, b, func(cur *v1alpha1.AuditPipeline) { cur.Spec.ClickHouse.Retention = days(7) })
	g.Eventually(schemaReady(b), timeout, interval).Should(Equal("False/" + v1alpha1.ReasonRetentionConflict))
	g.Expect(liveTTLs(g)).To(Equal(year))

	// Told to take over from a, b owns the TTL and sets its week; a now changes nothing.
	updatePipeline(g, b, func(cur *v1alpha1.AuditPipeline) {
		cur.Annotations = map[string]string{AnnotationAdoptRetention: aID}
	})
	g.Eventually(schemaReady(b), timeout, interval).Should(Equal("True/" + v1alpha1.ReasonApplied))
	week := []string{"TTL " + recompress + ", toDateTime(event_time) + toIntervalDay(7)", "TTL " + recompress + ", toDateTime(event_time) + toIntervalDay(7)"}
	g.Eventually(liveTTLs, timeout, interval).Should(Equal(week))
	poke(g, a, "after b took over")
	g.Eventually(schemaReady(a), timeout, interval).Should(Equal("False/" + v1alpha1.ReasonRetentionConflict))
	g.Expect(liveTTLs(g)).To(Equal(week))

	// b, of this cluster, is deleted: a takes the TTL over without being told and sets its year again.
	g.Expect(k8s.Delete(ctx, b)).To(Succeed())
	g.Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(b), b)) }, timeout, interval).Should(BeTrue())
	poke(g, a, "after b was deleted")
	g.Eventually(schemaReady(a), timeout, interval).Should(Equal("True/" + v1alpha1.ReasonApplied))
	g.Eventually(liveTTLs, timeout, interval).Should(Equal(year))
}

// recompress is the TTL rule of the recompression in merges, which leads every TTL the operator sets.
var recompress = tiering.Recompress(retention.EventTimeColumn)
