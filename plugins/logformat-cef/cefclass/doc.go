// Package cefclass maps Vigil metric names to CEF event classes: the Device
// Event Class ID, the Name and the severity floor of the header, and the
// deviceAction (act) verb. It reuses Kemp LoadMaster's class ids where the
// events mean the same, so SIEM rules written for LoadMaster's user and ESP
// logs keep working, and numbers Vigil's own events from 200 up.
//
// The table is documented in plugins/logformat-cef/README.md; a test keeps
// the two in step.
package cefclass
