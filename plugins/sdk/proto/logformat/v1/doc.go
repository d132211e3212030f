// Package logformatv1 is the code protoc generates from logformat.proto (`make
// proto`); the sdk's adapters are its only users.
package logformatv1
