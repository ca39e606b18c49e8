import Foundation
import Learning
import XCTest

final class CrossValidationTests: XCTestCase {
    /// Folds are stratified: every fold holds ⌊n_c/k⌋ or ⌈n_c/k⌉ rows of each class.
    func testFoldsAreStratified() throws {
        let labels = (0..<103).map { $0 % 3 == 0 ? 0 : ($0 % 7 == 0 ? 2 : 1) }
        let names = ["a", "b", "c"]
        let folds = try CrossValidation.stratifiedFolds(labels: labels, classNames: names, folds: 5, seed: 3)
        for c in 0..<3 {
            let total = labels.filter { $0 == c }.count
            for fold in 0..<5 {
                let inFold = zip(labels, folds).filter { $0.0 == c && $0.1 == fold }.count
                XCTAssertTrue(inFold == total / 5 || inFold == (total + 4) / 5, "class \(c) fold \(fold): \(inFold) of \(total)")
            }
        }
        XCTAssertThrowsError(try CrossValidation.stratifiedFolds(labels: [0, 0, 1], classNames: ["a", "b"], folds: 2, seed: 0))
    }

    /// A tiny, clearly separable but noisy problem: a very small C underfits (it predicts
    /// little better than the majority class), so CV must choose a larger C, and the table
    /// reports every grid point.
    func testPicksASensibleC() throws {
        let (x, labels) = tinyProblem(rows: 150, dimension: 5)
        for trainer in [CrossValidation.Trainer.svm(.init()), .softmax(.init())] {
            let report = try CrossValidation.select(
                trainer: trainer, x: x, rows: labels.count, dimension: 5, labels: labels,
                classNames: ["a", "b", "c"], grid: [1e-5, 1e-3, 1, 10], folds: 3, seed: 1)
            XCTAssertEqual(report.grid.map(\.C), [1e-5, 1e-3, 1, 10])
            XCTAssertTrue(report.grid.allSatisfy { $0.foldAccuracies.count == 3 })
            XCTAssertGreaterThanOrEqual(report.bestC, 1, report.table)
            XCTAssertGreaterThan(report.bestMeanAccuracy, 0.9, report.table)
            XCTAssertLessThan(report.grid[0].meanAccuracy, 0.6, report.table)
            XCTAssertEqual(report.bestMeanAccuracy, report.grid.map(\.meanAccuracy).max())
            XCTAssertTrue(report.table.contains("best C"), report.table)
        }
    }

    /// Three Gaussian blobs in 5-D, classes 40/50/60 rows, deterministic (LCG-driven).
    private func tinyProblem(rows: Int, dimension: Int) -> ([Float], [Int]) {
        var state: UInt64 = 12345
        func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        func gaussian() -> Double { sqrt(-2 * log(max(uniform(), 1e-300))) * cos(2 * .pi * uniform()) }
        var x = [Float]()
        var labels = [Int]()
        for row in 0..<rows {
            let label = row < 40 ? 0 : (row < 90 ? 1 : 2)
            for j in 0..<dimension {
                let center: Double = (j == label ? 3 : 0) + 5  // + 5: codes are not centered
                x.append(Float(center + 0.8 * gaussian()))
            }
            labels.append(label)
        }
        return (x, labels)
    }
}
