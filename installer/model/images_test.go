package model

import (
	"strings"
	"testing"
)

func TestParseImages(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in     string
		want   map[string]string
		refuse string
	}{
		{"kafka=confluentinc/cp-server:7.9.10", map[string]string{"kafka": "confluentinc/cp-server:7.9.10"}, ""},
		{" spark = me/spark:mine , cassandra=", map[string]string{"spark": "me/spark:mine", "cassandra": ""}, ""},
		{"airflow=registry.example:5000/team/airflow@sha256:" + strings.Repeat("a", 64),
			map[string]string{"airflow": "registry.example:5000/team/airflow@sha256:" + strings.Repeat("a", 64)}, ""},
		{"broker=confluentinc/cp-server:7.9.10", nil, "NAME one of kafka, zookeeper"},
		{"kafka", nil, "not NAME=REF"},
		{"kafka=confluentinc/cp-server", nil, "no tag or digest"},
		{"kafka=Not A Ref:1", nil, "not an image reference"},
		{",", nil, "names no image"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseImages(tt.in)
			if tt.refuse != "" {
				if err == nil || !strings.Contains(err.Error(), tt.refuse) {
					t.Fatalf("err = %v, want one saying %q", err, tt.refuse)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s: got %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// TestImageOf: an override replaces its pinned image in every service that runs it; under
// --registry a Docker Hub name moves to the mirror like the pinned ones, a name with its own
// registry does not.
func TestImageOf(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, registry string
		images         map[string]string
		pinned, want   string
	}{
		{"pinned", "", nil, imageKafka, imageKafka},
		{"pinned under a mirror", "mirror:5000", nil, imageCassandra, "mirror:5000/library/" + imageCassandra},
		{"override", "", map[string]string{"kafka": "confluentinc/cp-server:7.9.10"}, imageKafka, "confluentinc/cp-server:7.9.10"},
		{"override of another image", "", map[string]string{"kafka": "confluentinc/cp-server:7.9.10"}, imageZooKeeper, imageZooKeeper},
		{"hub override under a mirror", "mirror:5000", map[string]string{"cassandra": "cassandra:5.0.10"}, imageCassandra, "mirror:5000/library/cassandra:5.0.10"},
		{"own registry under a mirror", "mirror:5000", map[string]string{"spark": "registry.example/team/spark:mine"}, imageSpark, "registry.example/team/spark:mine"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := DefaultAnswers(EngineResources{NCPU: 4, MemTotal: 16 << 30})
			a.Registry, a.Images = tt.registry, tt.images
			if got := a.ImageOf(tt.pinned); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestImageOverridesRenderAndPersist: --image merges into the saved overrides (NAME= removes
// one), renders into every service of that image and into the FROM of a built one, survives
// the answers file, and Overrides leaves out an image no installed service runs.
func TestImageOverridesRenderAndPersist(t *testing.T) {
	t.Parallel()
	a := DefaultAnswers(EngineResources{NCPU: 4, MemTotal: 16 << 30})
	set := func(v string) {
		t.Helper()
		for _, s := range Settings() {
			if s.Flag == "image" {
				apply, err := s.Parse(v)
				if err != nil {
					t.Fatal(err)
				}
				apply(&a)
			}
		}
	}
	set("kafka=confluentinc/cp-server:7.9.10,spark=me/spark:mine")
	set("cassandra=cassandra:5.0.10,spark=")
	if len(a.Images) != 2 || a.Images["kafka"] == "" || a.Images["cassandra"] == "" {
		t.Fatalf("images = %v, want kafka and cassandra", a.Images)
	}
	b, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseAnswers(b)
	if err != nil || back.Images["kafka"] != "confluentinc/cp-server:7.9.10" {
		t.Fatalf("round trip: %v, %v", back, err)
	}
	compose, err := Render(back, "test", "", Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(compose), "image: confluentinc/cp-server:7.9.10"); n != 2 {
		t.Errorf("the override is the image of %d services, want 2 (broker, kafka-init)", n)
	}
	if strings.Contains(string(compose), imageKafka) {
		t.Errorf("the pinned Kafka image is still rendered")
	}
	set("airflow=apache/airflow:3.3.3-python3.12")
	builds, err := Builds(&a, Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range builds {
		if b.Name == "airflow" && (b.Base != "apache/airflow:3.3.3-python3.12" || !strings.HasPrefix(b.Tag, "dataeco/airflow:3.3.3-python3.12-") ||
			!strings.Contains(string(b.Files["Dockerfile"]), "FROM apache/airflow:3.3.3-python3.12\n")) {
			t.Errorf("airflow build = %s from %s", b.Tag, b.Base)
		}
	}
	a.Components = []string{CompKafka}
	if o := a.Overrides(); len(o) != 1 || o[0].Name != "kafka" || o[0].Pinned != imageKafka {
		t.Errorf("overrides of a Kafka-only install = %+v", o)
	}
	if _, err := ParseAnswers([]byte(strings.Replace(string(b), "kafka: confluentinc/cp-server:7.9.10", "kafka: confluentinc/cp-server", 1))); err == nil {
		t.Errorf("an answers file with an untagged override was accepted")
	}
}
