// Package layout names the files and directories of an appliance's state
// (design.md, "Storage locations") and creates them with their modes. vigild
// and vigilctl both find everything through it, so the two never disagree
// on where the store, the keys or the spool live.
package layout
