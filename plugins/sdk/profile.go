package sdk

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// CPUProfileEnv, when set in a plugin's environment, makes the plugin
// process write a CPU profile (go tool pprof) to the path it names, from
// start until the host closes the connection. The host passes its own
// environment on, so `VIGIL_PLUGIN_CPUPROFILE=/tmp/p.out go test -bench ...`
// profiles the plugin side of a benchmark.
const CPUProfileEnv = "VIGIL_PLUGIN_CPUPROFILE"

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("sdk: cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("sdk: cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
