package cefspec

// Version is the CEF format version Vigil writes and accepts ("CEF:0").
const Version = 0

// Header field limits, in bytes of UTF-8 before escaping.
const (
	MaxDeviceVendor  = 63
	MaxDeviceProduct = 63
	MaxDeviceVersion = 31
	MaxClassID       = 1023
	MaxName          = 512
)

// MaxSeverity is the top of the integer severity scale: 0-3 Low, 4-6
// Medium, 7-8 High, 9-10 Very-High.
const MaxSeverity = 10

// SeverityNames are the string severities the specification allows in place
// of an integer.
var SeverityNames = []string{"Unknown", "Low", "Medium", "High", "Very-High"}

// MinMaxLen is the smallest limit of any String key the dictionary holds
// (app, 31 bytes): a value that cannot exceed it needs no lookup.
const MinMaxLen = 31

// MaxCustomLen is the limit Vigil applies to custom (non-dictionary) keys.
// The specification sets none; this is the dictionary's usual String limit.
const MaxCustomLen = 1023

// Type is the data type the dictionary gives a key.
type Type int

const (
	String Type = iota
	Integer
	Long
	IPv4
	IPv6
	// Timestamp is milliseconds since the epoch or "MMM dd yyyy HH:mm:ss".
	Timestamp
)

// Key is one entry of the extension dictionary.
type Key struct {
	Name     string // the CEF key name, e.g. suser
	FullName string // e.g. sourceUserName
	Type     Type
	MaxLen   int // for String keys; 0 otherwise
}

// dictionary holds the keys Vigil writes, as the specification defines them.
var dictionary = map[string]Key{}

func init() {
	for _, k := range []Key{
		{"act", "deviceAction", String, 63},
		{"app", "applicationProtocol", String, 31},
		{"cat", "deviceEventCategory", String, 1023},
		{"cn1", "deviceCustomNumber1", Long, 0},
		{"cn2", "deviceCustomNumber2", Long, 0},
		{"cn3", "deviceCustomNumber3", Long, 0},
		{"cn1Label", "deviceCustomNumber1Label", String, 1023},
		{"cn2Label", "deviceCustomNumber2Label", String, 1023},
		{"cn3Label", "deviceCustomNumber3Label", String, 1023},
		{"cs1", "deviceCustomString1", String, 4000},
		{"cs2", "deviceCustomString2", String, 4000},
		{"cs3", "deviceCustomString3", String, 4000},
		{"cs4", "deviceCustomString4", String, 4000},
		{"cs5", "deviceCustomString5", String, 4000},
		{"cs6", "deviceCustomString6", String, 4000},
		{"cs1Label", "deviceCustomString1Label", String, 1023},
		{"cs2Label", "deviceCustomString2Label", String, 1023},
		{"cs3Label", "deviceCustomString3Label", String, 1023},
		{"cs4Label", "deviceCustomString4Label", String, 1023},
		{"cs5Label", "deviceCustomString5Label", String, 1023},
		{"cs6Label", "deviceCustomString6Label", String, 1023},
		{"c6a2", "deviceCustomIPv6Address2", IPv6, 0},
		{"c6a3", "deviceCustomIPv6Address3", IPv6, 0},
		{"c6a2Label", "deviceCustomIPv6Address2Label", String, 1023},
		{"c6a3Label", "deviceCustomIPv6Address3Label", String, 1023},
		{"deviceExternalId", "deviceExternalId", String, 255},
		{"deviceProcessName", "deviceProcessName", String, 1023},
		{"dhost", "destinationHostName", String, 1023},
		{"dpt", "destinationPort", Integer, 0},
		{"dst", "destinationAddress", IPv4, 0},
		{"duser", "destinationUserName", String, 1023},
		{"dvchost", "deviceHostName", String, 100},
		{"end", "endTime", Timestamp, 0},
		{"externalId", "externalId", String, 40},
		{"filePath", "filePath", String, 1023},
		{"fsize", "fileSize", Integer, 0},
		{"in", "bytesIn", Integer, 0},
		{"msg", "message", String, 1023},
		{"out", "bytesOut", Integer, 0},
		{"outcome", "eventOutcome", String, 63},
		{"reason", "reason", String, 1023},
		{"request", "requestUrl", String, 1023},
		{"requestClientApplication", "requestClientApplication", String, 1023},
		{"requestMethod", "requestMethod", String, 1023},
		{"rt", "deviceReceiptTime", Timestamp, 0},
		{"shost", "sourceHostName", String, 1023},
		{"sntdom", "sourceNtDomain", String, 255},
		{"spt", "sourcePort", Integer, 0},
		{"src", "sourceAddress", IPv4, 0},
		{"start", "startTime", Timestamp, 0},
		{"suid", "sourceUserId", String, 1023},
		{"suser", "sourceUserName", String, 1023},
	} {
		dictionary[k.Name] = k
	}
}

// Lookup returns the dictionary entry for a key name.
func Lookup(name string) (Key, bool) {
	k, ok := dictionary[name]
	return k, ok
}

// MaxLen is the longest value, in bytes before escaping, that may be written
// under key: the dictionary's limit for a String key, MaxCustomLen for a key
// the dictionary does not hold. Typed keys (numbers, addresses, timestamps)
// have no length limit of their own and report MaxCustomLen.
func MaxLen(name string) int {
	if k, ok := dictionary[name]; ok && k.MaxLen > 0 {
		return k.MaxLen
	}
	return MaxCustomLen
}

// ValidKeyName reports whether name may be an extension key: one word of
// ASCII letters and digits, as the specification asks of custom keys too.
func ValidKeyName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !IsKeyByte(name[i]) {
			return false
		}
	}
	return true
}

// IsKeyByte reports whether c may appear in an extension key name.
func IsKeyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
