package tiering

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/auditpipeline/auditpipeline-operator/api/v1alpha1"
)

const (
	// PolicyName is the storage policy the audit tables use.
	PolicyName = "hot_cold"
	// HotVolume is the policy's volume on the local data disk.
	HotVolume = "hot"
	// ColdVolume is the policy's volume on object storage.
	ColdVolume = "cold"
	// ColdDisk is the S3 disk.
	ColdDisk = "s3_cold"
	// ColdCacheDisk is the local cache in front of ColdDisk.
	ColdCacheDisk = "s3_cold_cache"
	// EnvAccessKeyID and EnvSecretAccessKey are the environment variables ClickHouse reads the S3
	// credentials from; the pod template fills them from the referenced Secret's keys of the same names.
	EnvAccessKeyID     = "AWS_ACCESS_KEY_ID"
	EnvSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	// StorageFile is the path, below /etc/clickhouse-server, of the rendered storage configuration.
	StorageFile = "config.d/storage.xml"

	dataPath   = "/var/lib/clickhouse/"
	moveFactor = "0.1"
)

type storageDocument struct {
	XMLName xml.Name             `xml:"clickhouse"`
	Storage storageConfiguration `xml:"storage_configuration"`
}

type storageConfiguration struct {
	Disks    *disks   `xml:"disks,omitempty"`
	Policies policies `xml:"policies"`
}

type disks struct {
	Cold  *s3Disk    `xml:"s3_cold,omitempty"`
	Cache *cacheDisk `xml:"s3_cold_cache,omitempty"`
}

type s3Disk struct {
	Type            string `xml:"type"`
	Endpoint        string `xml:"endpoint"`
	AccessKeyID     envRef `xml:"access_key_id"`
	SecretAccessKey envRef `xml:"secret_access_key"`
	Region          string `xml:"region,omitempty"`
	MetadataPath    string `xml:"metadata_path"`
}

type envRef struct {
	FromEnv string `xml:"from_env,attr"`
}

type cacheDisk struct {
	Type    string `xml:"type"`
	Disk    string `xml:"disk"`
	Path    string `xml:"path"`
	MaxSize int64  `xml:"max_size"`
}

type policies struct {
	HotCold policy `xml:"hot_cold"`
}

type policy struct {
	Volumes    volumes `xml:"volumes"`
	MoveFactor string  `xml:"move_factor,omitempty"`
}

type volumes struct {
	Hot  volume  `xml:"hot"`
	Cold *volume `xml:"cold,omitempty"`
}

type volume struct {
	Disk string `xml:"disk"`
}

// StorageXML renders config.d/storage.xml: the hot_cold policy with the hot volume on the default disk
// and, when spec.storage.cold is set, the cold volume on an S3 disk behind an optional local cache.
// Without a cold tier the policy has the hot volume only, so tables can always name hot_cold.
func StorageXML(ch *v1alpha1.ClickHouseSpec) ([]byte, error) {
	doc := storageDocument{Storage: storageConfiguration{
		Policies: policies{HotCold: policy{Volumes: volumes{Hot: volume{Disk: "default"}}}},
	}}
	if cold := coldSpec(ch); cold != nil {
		endpoint, err := objectURL(cold)
		if err != nil {
			return nil, err
		}
		d := &disks{Cold: &s3Disk{
			Type:            "s3",
			Endpoint:        endpoint,
			AccessKeyID:     envRef{FromEnv: EnvAccessKeyID},
			SecretAccessKey: envRef{FromEnv: EnvSecretAccessKey},
			Region:          cold.Region,
			MetadataPath:    dataPath + "disks/" + ColdDisk + "/",
		}}
		coldVolumeDisk := ColdDisk
		if cold.CacheSize != nil && cold.CacheSize.Value() > 0 {
			d.Cache = &cacheDisk{Type: "cache", Disk: ColdDisk,
				Path: dataPath + "disks/" + ColdCacheDisk + "/", MaxSize: cold.CacheSize.Value()}
			coldVolumeDisk = ColdCacheDisk
		}
		doc.Storage.Disks = d
		doc.Storage.Policies.HotCold.Volumes.Cold = &volume{Disk: coldVolumeDisk}
		doc.Storage.Policies.HotCold.MoveFactor = moveFactor
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render storage.xml: %w", err)
	}
	return append(out, '\n'), nil
}

// HasColdTier reports whether the spec asks for a cold tier.
func HasColdTier(ch *v1alpha1.ClickHouseSpec) bool {
	return coldSpec(ch) != nil
}

func coldSpec(ch *v1alpha1.ClickHouseSpec) *v1alpha1.ColdStorageSpec {
	if ch.Storage == nil {
		return nil
	}
	return ch.Storage.Cold
}

// objectURL is the S3 URL ClickHouse writes objects under: endpoint/bucket/path/.
func objectURL(cold *v1alpha1.ColdStorageSpec) (string, error) {
	if cold.Endpoint == "" || cold.Bucket == "" {
		return "", fmt.Errorf("spec.clickhouse.storage.cold needs an endpoint and a bucket")
	}
	url := strings.TrimSuffix(cold.Endpoint, "/") + "/" + cold.Bucket + "/"
	if p := strings.Trim(cold.Path, "/"); p != "" {
		url += p + "/"
	}
	return url, nil
}
