package engine

import "testing"

// TestInstallState: how an install's containers sum up in `status --all`.
func TestInstallState(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   Install
		want string
	}{
		{Install{Containers: 16, Running: 13, Done: 3}, "running"},
		{Install{Containers: 16, Running: 13, Done: 3, Unhealthy: 1}, "running, unhealthy"},
		{Install{Containers: 16, Running: 5, Done: 3}, "partly running"},
		{Install{Containers: 16, Running: 0, Done: 3}, "stopped"},
		{Install{Containers: 16}, "stopped"},
	} {
		if got := tt.in.State(); got != tt.want {
			t.Errorf("%+v: State() = %q, want %q", tt.in, got, tt.want)
		}
	}
}
