package main

import "github.com/vigilgw/vigil/plugins/sdk"

func main() { sdk.ServeRecorder(newRecorder()) }
