//go:build windows

package checks

import "errors"

// FreeBytes is not measured on Windows: the engine's disk lives in the WSL2 or Hyper-V VM.
func FreeBytes(string) (uint64, error) {
	return 0, errors.New("the engine's disk is inside its VM")
}
