package rtpudp

import "golang.org/x/net/bpf"

// SocketOf returns the socket, 0 to sockets-1, that a Server with that
// many sockets reads the datagrams of ssrc on where it steers by SSRC
// (Server.SteersBySSRC): for RTP the SSRC of its header, for RTCP the
// sender's SSRC (the second word). A load generator sending with UDP GSO
// needs it: the kernel steers a GSO train as one datagram, by its first,
// so a train must hold the datagrams of one socket only.
func SocketOf(ssrc uint32, sockets int) int {
	if sockets <= 1 {
		return 0
	}
	return int(steerHash(ssrc) % uint32(sockets))
}

// steerHash spreads SSRCs that differ in a few bits (sequential test
// SSRCs, or an SBC's) as evenly as random ones: Fibonacci hashing, the
// high half of the product.
func steerHash(ssrc uint32) uint32 { return ssrc * 0x9e3779b1 >> 16 }

// steerProgram is the classic BPF program that SO_ATTACH_REUSEPORT_CBPF
// runs on each datagram's UDP payload to pick its socket: SocketOf in BPF.
// A datagram too short to hold the SSRC makes the program fail, which
// returns 0: socket 0 reads it (and counts it malformed).
func steerProgram(sockets int) ([]bpf.RawInstruction, error) {
	return bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 1, Size: 1}, // A = the second byte: RTCP's packet type, or RTP's marker and payload type
		bpf.JumpIf{Cond: bpf.JumpLessThan, Val: 192, SkipTrue: 3},
		bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: 223, SkipTrue: 2},
		bpf.LoadAbsolute{Off: 4, Size: 4}, // RTCP: the sender's SSRC
		bpf.Jump{Skip: 1},
		bpf.LoadAbsolute{Off: 8, Size: 4}, // RTP: the SSRC
		bpf.ALUOpConstant{Op: bpf.ALUOpMul, Val: 0x9e3779b1},
		bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 16},
		bpf.ALUOpConstant{Op: bpf.ALUOpMod, Val: uint32(sockets)},
		bpf.RetA{},
	})
}
