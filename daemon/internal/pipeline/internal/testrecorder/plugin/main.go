// Command plugin serves testrecorder.Recorder as a recorder plugin
// executable, for the pipeline's tests that kill plugin processes.
package main

import (
	"github.com/vigilgw/vigil/daemon/internal/pipeline/internal/testrecorder"
	"github.com/vigilgw/vigil/plugins/sdk"
)

func main() { sdk.ServeRecorder(&testrecorder.Recorder{}) }
