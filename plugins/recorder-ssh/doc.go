// Command vigil-plugin-recorder-ssh is the recorder plugin for terminal
// sessions: it verifies a sealed capture segment with the appliance's
// public key, then renders it as an asciicast v2 recording (role "cast")
// and a searchable transcript (role "transcript"). The capture format and
// the renderers are the SDK's (plugins/sdk/capture, plugins/sdk/termrender);
// this command wires them to the recorder contract. README.md documents the
// settings and the outputs.
package main
