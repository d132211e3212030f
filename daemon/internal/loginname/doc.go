// Package loginname parses the login names users give the gateways:
// "USER:TARGET", the gateway user and the target they want, as the SSH
// user name or the VeNCrypt Plain user name. The gateways share it so that
// a name means the same, and is refused for the same reasons, whichever
// protocol it arrives over.
package loginname
