package migrations

// Superseded are the checksums of earlier versions of migration files that builds of this repository
// applied before the file changed in place (no release had shipped), each with what changed. The
// operator refuses a database that applied one (ChecksumMismatch, with this note) rather than writing
// into tables laid out differently: docs/migrations.md#a-database-from-an-earlier-build says what to do.
var Superseded = map[string]string{
	"sha256:68d9f155987f163c43fff4908930638363072d592d122703644334da008e8f26": recompression, // 2026-12-07, 4baf798
	"sha256:82d15e598fee206985a16739323e16059b46433a0f164b370945adf6492d7be0": tenantColumns, // 2026-12-01, b254af4
	"sha256:54670dccf03fc9126afbaf08234af8a6bfa4d7f8f6b4d9e84a60bf97490e0c87": tenantColumns, // 2026-12-01, 3740558
	"sha256:ad984dcfdffc768789315389417eb3e0dedb28e769257c8d1b3f3ba99f94555d": tenantColumns, // 2026-12-01, 8052f18
	"sha256:52b68005dda23c7f3541ccc03ce8f7ec98d61fee64e9274b522b433b2b8e66a7": tenantColumns, // 2026-12-01, e8555f8
	"sha256:0f67c12a10545debd3490dc522552cabb21d5ea963294f13a7eb96064d5cb658": tenantColumns, // 2026-12-01, c896139
	"sha256:979a98267f557f695340dd26f4f461a17ad27dd2bc98dd9a3b3f039dd796fad1": tenantColumns, // 2026-12-01, 556298f
	"sha256:b76348f859fb109d5d2e0decdc66894975a6971141e5e24b62c63bd7cfa56216": tenantColumns, // 2026-12-01, d679516
	"sha256:b476bfc0eb2a400f44e0f5d9c86006883184d65c4b059139eae41e4a83e49324": tenantColumns, // 2026-11-24, e5329e6
	"sha256:edabd73b251df903510cd8474a6f696d125e1d4b1dd68d2c92322fa3715c0120": tenantColumns, // 2026-11-24, b5e7039
}

// tenantColumns is what changed in 00001_events.sql when the tables got their tenant_type, tenant and
// cluster columns and the tenant led their sort keys.
const tenantColumns = "00001_events.sql before the tables had the tenant_type, tenant and cluster columns that lead their sort keys"

// recompression is what changed in 00001_events.sql when rest lost its own codec for the recompression
// in merges (a TTL rule) and user_uid became LowCardinality.
const recompression = "00001_events.sql before rest was recompressed in merges (TTL ... RECOMPRESS) and user_uid was LowCardinality"
