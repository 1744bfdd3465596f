package recorder

// recorderPad pads Recorder to a multiple of 64 bytes on 64-bit platforms
// (TestRecorderHotLine says by how much when its fields change).
const recorderPad = 40
