/// The runtime part of a graph while the load-time passes rewrite it: the nodes that are not
/// constant-folded away, each with its built operator, plus every tensor's `ValueInfo`.
struct Program {
    struct Step {
        var node: Node
        var op: Operator
        var inputInfos: [ValueInfo?]
    }
    var steps: [Step]
    var values: [String: ValueInfo]
    /// Tensors the caller asked for: never fused away.
    let requested: Set<String>

    /// How many steps read each tensor.
    func consumerCounts() -> [String: Int] {
        var counts: [String: Int] = [:]
        for step in steps { for name in step.node.inputs where !name.isEmpty { counts[name, default: 0] += 1 } }
        return counts
    }

    /// The index of the step producing `name`, if it is a runtime tensor.
    func producer(of name: String) -> Int? {
        steps.firstIndex { $0.node.outputs.contains(name) }
    }

    /// True when `name` is read by exactly one step and not requested: its producer may be
    /// merged into that consumer.
    func isPrivate(_ name: String, _ counts: [String: Int]) -> Bool {
        counts[name] == 1 && !requested.contains(name)
    }

    /// Re-reads the input infos of every step (after a pass changed names or constants).
    mutating func refreshInfos() {
        for i in steps.indices {
            steps[i].inputInfos = steps[i].node.inputs.map { $0.isEmpty ? nil : values[$0] }
        }
    }

    /// Rewrites the program one site at a time until no site applies: each scan offers the
    /// steps in order to `rewrite(&program, index, counts)`, which returns true when it
    /// changed the program at that step (merging steps, removing one); the scan then stops,
    /// the input infos are refreshed, and a new scan starts from the first step with fresh
    /// consumer counts. `counts` are `consumerCounts()` of the program as the scan began, valid
    /// because a scan ends at its first rewrite. Every rewrite must remove a step (all passes
    /// do), so there are at most as many scans as steps.
    mutating func rewriteUntilStable(_ rewrite: (inout Program, Int, [String: Int]) -> Bool) {
        var changed = true
        while changed {
            changed = false
            let counts = consumerCounts()
            for index in steps.indices {
                if rewrite(&self, index, counts) {
                    refreshInfos()
                    changed = true
                    break
                }
            }
        }
    }

    /// Runs the load-time passes in order: Pad into Conv, BatchNorm (and per-channel Mul/Add)
    /// into Conv, the remaining BatchNorm/Mul/Add chains into one ChannelAffine each, GELUs
    /// written out through Erf into one Gelu step each, residual Adds into Conv, activations into Conv/Gemm/ChannelAffine epilogues, then MaxPools into the
    /// Conv before them (where `ConvMaxPoolKernel` runs).
    mutating func optimize() {
        PadIntoConv.run(&self)
        BatchNormIntoConv.run(&self)
        ChannelAffineFusion.run(&self)
        GeluFusion.run(&self)
        ResidualAddFusion.run(&self)
        ActivationFusion.run(&self)
        ConvMaxPoolFusion.run(&self)
    }
}
