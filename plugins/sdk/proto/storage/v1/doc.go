// Package storagev1 is the code protoc generates from storage.proto (`make
// proto`); the sdk's adapters are its only users.
package storagev1
