// Package pathtmpl owns the upload-location template: where a recording and
// its renders land in storage, in the wording Kasm administrators know.
//
//	s3://bucket@endpoint/folder/{username}/{session_id}.{ext}
//	s3://bucket/folder/{username}/{session_id}.{ext}          (AWS endpoint)
//	s3://bucket@http://minio.lan:9000/rec/{session_id}.{ext}  (plain HTTP, only with allow_http)
//	file:///var/lib/vigil/recordings/{username}/{session_id}/{segment}.{ext}
//
// Parse checks the template once, when the configuration is loaded; Render
// fills in the variables for one object. The fixed parts come from the
// administrator and are kept as written (Parse refuses "..", "." and empty
// segments in them). Every substituted value comes from users and targets and
// is made path-safe before it is placed: it can never add a directory level,
// climb out of the prefix or smuggle control characters into a key.
package pathtmpl
