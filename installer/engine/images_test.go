package engine

import (
	"io"
	"slices"
	"strings"
	"testing"
)

// TestLoadedImages reads the engine's answers to an image load, as Engine 20.10 and later
// write them.
func TestLoadedImages(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, body string
		want       []string
		wantErr    string
	}{
		{"tagged images", `{"stream":"Loaded image: r:5000/confluentinc/cp-server:7.9.9\n"}` + "\n" +
			`{"stream":"Loaded image: r:5000/confluentinc/cp-zookeeper:7.9.9\n"}` + "\n",
			[]string{"r:5000/confluentinc/cp-server:7.9.9", "r:5000/confluentinc/cp-zookeeper:7.9.9"}, ""},
		{"untagged image", `{"stream":"Loaded image ID: sha256:abc\n"}`, []string{"sha256:abc"}, ""},
		{"progress lines are skipped", `{"status":"Loading layer","progressDetail":{"current":1,"total":2}}` + "\n" +
			`{"stream":"Loaded image: busybox:1\n"}`, []string{"busybox:1"}, ""},
		{"engine error", `{"errorDetail":{"message":"unexpected EOF"},"error":"Error processing tar file(exit status 1): unexpected EOF"}`,
			nil, "unexpected EOF"},
		{"nothing loaded", ``, nil, "loaded no image"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadedImages(strings.NewReader(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// TestByteCounterGrows: the size of an image archive is only estimated up front; going past
// the estimate must not fail the copy being watched.
func TestByteCounterGrows(t *testing.T) {
	t.Parallel()
	b := NewByteCounter(Output{W: io.Discard, TTY: true}, 10, "saving images")
	for i := 0; i < 5; i++ {
		if n, err := b.Write(make([]byte, 7)); n != 7 || err != nil {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
	}
	if b.n != 35 || b.max < 35 {
		t.Errorf("counted %d of max %d", b.n, b.max)
	}
	if err := b.Finish(); err != nil {
		t.Error(err)
	}
}
