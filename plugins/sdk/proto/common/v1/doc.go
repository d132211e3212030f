// Package commonv1 is the code protoc generates from common.proto (`make
// proto`); the sdk's adapters are its only users.
package commonv1
