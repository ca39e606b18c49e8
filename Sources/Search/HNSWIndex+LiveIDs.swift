extension HNSWIndex {
    /// The ids stored and not marked deleted (unordered): lets a caller bring an index in
    /// step with its source collection.
    public var liveIDs: [Int64] {
        internalOfID.compactMap { id, slot in deleted[Int(slot)] ? nil : id }
    }
}
