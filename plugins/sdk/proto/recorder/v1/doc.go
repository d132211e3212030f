// Package recorderv1 is the code protoc generates from recorder.proto (`make
// proto`); the sdk's adapters are its only users.
package recorderv1
