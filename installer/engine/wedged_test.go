package engine

import (
	"errors"
	"fmt"
	"testing"
)

// TestFailedForWedged: one more attempt on new containers only when the wedged ones were the
// failure, whichever of the engine's two refusals it was.
func TestFailedForWedged(t *testing.T) {
	wedged := []string{"spark-master", "zookeeper"}
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"a wedged service failed", &ServiceFailure{Service: "zookeeper", Reason: "cannot be started again"}, true},
		{"another service failed", &ServiceFailure{Service: "broker", Reason: "was not ready within 2m0s"}, false},
		{"wrapped failure of a wedged service", fmt.Errorf("starting services: %w", &ServiceFailure{Service: "spark-master"}), true},
		{"the engine's task refusal from Compose", errors.New("Error response from daemon: task 5f2c: already exists"), true},
		{"the engine's container refusal from Compose", errors.New("Error response from daemon: id already in use"), true},
		{"anything else", errors.New("Error response from daemon: driver failed programming external connectivity"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := failedForWedged(tt.err, wedged); got != tt.want {
				t.Errorf("failedForWedged(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
