import Foundation

extension ClassificationMetrics {
    /// A plain-text report: summary line(s), the per-class table as scikit-learn's
    /// classification_report lays it out, then the confusion matrix (rows = true class).
    ///
    ///                   precision    recall  f1-score   support
    ///             ants      0.950     0.940     0.945        70
    ///     ...
    public var table: String {
        var lines = [String]()
        lines.append("accuracy \(Self.fixed(accuracy, 4)) (\(Int((accuracy * Double(count)).rounded())) of \(count))"
            + (top5Accuracy.map { ", top-5 accuracy \(Self.fixed($0, 4))" } ?? ""))
        lines.append("")
        let nameWidth = max(12, (classes.map(\.count).max() ?? 0))
        func pad(_ s: String, _ width: Int) -> String {
            s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
        }
        func row(_ name: String, _ scores: ClassScores) -> String {
            pad(name, nameWidth) + pad(Self.fixed(scores.precision, 3), 11) + pad(Self.fixed(scores.recall, 3), 10)
                + pad(Self.fixed(scores.f1, 3), 10) + pad(String(scores.support), 10)
        }
        lines.append(pad("", nameWidth) + pad("precision", 11) + pad("recall", 10) + pad("f1-score", 10) + pad("support", 10))
        for (name, scores) in zip(classes, perClass) { lines.append(row(name, scores)) }
        lines.append("")
        lines.append(row("macro avg", macroAverage))
        lines.append(row("weighted avg", weightedAverage))
        lines.append("")
        lines.append("confusion matrix (rows: true class, columns: predicted, in the order above)")
        let cellWidth = max(5, (confusion.flatMap { $0 }.max().map { String($0).count } ?? 1) + 1)
        let header = pad("", nameWidth) + (0..<classes.count).map { pad("[\($0)]", cellWidth) }.joined()
        lines.append(header)
        for (c, counts) in confusion.enumerated() {
            lines.append(pad("[\(c)] " + classes[c], nameWidth) + counts.map { pad(String($0), cellWidth) }.joined())
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func fixed(_ value: Double, _ digits: Int) -> String {
        String(format: "%.\(digits)f", value)
    }
}
