// Per-shot edge weights on one PyMatching (sparse blossom) graph.
//
// PyMatching builds its matching graph once and never lets a caller change edge weights; a graph
// rebuilt per shot costs ~50x a decode. This module builds the graph once, in the exact order and
// with the exact rules PyMatching 2.4 uses for `Matching.from_check_matrix(H, weights=w,
// faults_matrix=L, use_virtual_boundary_node=True)` (merge strategy "smallest-weight"), and per
// shot only rewrites the integer edge weights, observables and negative-weight bookkeeping, then
// runs PyMatching's own flooder and matcher. The predictions therefore equal that per-shot rebuild
// bit for bit (tested in tests/test_weighted_matching.py).
//
// Compiled against PyMatching's C++ core (sparse_blossom: flooder, matcher, search, tracker),
// taken from the PyMatching sdist at build time (see setup.py). Nothing here includes Stim.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "pymatching/sparse_blossom/flooder/graph.h"
#include "pymatching/sparse_blossom/flooder/graph_flooder.h"
#include "pymatching/sparse_blossom/matcher/mwpm.h"

namespace py = pybind11;

namespace {

// PyMatching's `NUM_DISTINCT_WEIGHTS` (driver/user_graph.h): weights are scaled so that the largest
// absolute weight becomes 2^24 - 1, rounded, then doubled (all collisions at integer times).
constexpr pm::weight_int kNumDistinctWeights = 1u << (sizeof(pm::weight_int) * 8 - 8);
constexpr double kMaxUserEdgeWeight = (double)(kNumDistinctWeights - 1);

class WeightedMatcher {
   public:
    // col_u, col_v: the detectors of each column (col_v < 0: a boundary edge); col_obs: its
    // observable mask. Columns are in the order of the check matrix (it sets merge priority).
    WeightedMatcher(
        size_t num_detectors,
        py::array_t<int64_t, py::array::c_style | py::array::forcecast> col_u,
        py::array_t<int64_t, py::array::c_style | py::array::forcecast> col_v,
        py::array_t<uint64_t, py::array::c_style | py::array::forcecast> col_obs,
        size_t num_observables)
        : num_detectors_(num_detectors), num_observables_(num_observables) {
        if (num_observables > 64)
            throw std::invalid_argument("at most 64 observables");
        auto u = col_u.unchecked<1>();
        auto v = col_v.unchecked<1>();
        auto o = col_obs.unchecked<1>();
        num_columns_ = (size_t)u.shape(0);
        if ((size_t)v.shape(0) != num_columns_ || (size_t)o.shape(0) != num_columns_)
            throw std::invalid_argument("col_u, col_v and col_obs must have the same length");

        // Merge parallel columns into edges, in order of first appearance (as UserGraph does).
        std::map<std::pair<int64_t, int64_t>, size_t> edge_of;
        column_edge_.resize(num_columns_);
        column_obs_.resize(num_columns_);
        column_first_.resize(num_columns_);
        for (size_t c = 0; c < num_columns_; c++) {
            int64_t a = u(c), b = v(c);
            if (a < 0 || (size_t)a >= num_detectors || b >= (int64_t)num_detectors || a == b)
                throw std::invalid_argument("column " + std::to_string(c) + " has invalid detectors");
            std::pair<int64_t, int64_t> key = b < 0 ? std::make_pair(a, (int64_t)-1) : std::make_pair(std::min(a, b), std::max(a, b));
            auto it = edge_of.find(key);
            size_t e;
            if (it == edge_of.end()) {
                e = edge_u_.size();
                edge_of.emplace(key, e);
                edge_u_.push_back((size_t)a);
                edge_v_.push_back(b < 0 ? SIZE_MAX : (size_t)b);
            } else {
                e = it->second;
            }
            column_edge_[c] = e;
            column_obs_[c] = o(c);
            column_first_[c] = it == edge_of.end();
        }
        size_t num_edges = edge_u_.size();

        // The graph, in PyMatching's order: edges between detectors as they appear, then boundary
        // edges by node (boundary edges go first in a node's neighbour list).
        pm::MatchingGraph graph(num_detectors, num_observables);
        std::vector<size_t> boundary_edge_of_node(num_detectors, SIZE_MAX);
        for (size_t e = 0; e < num_edges; e++) {
            if (edge_v_[e] == SIZE_MAX)
                boundary_edge_of_node[edge_u_[e]] = e;
            else
                graph.add_edge(edge_u_[e], edge_v_[e], 2, {});
        }
        for (size_t n = 0; n < num_detectors; n++)
            if (boundary_edge_of_node[n] != SIZE_MAX)
                graph.add_boundary_edge(n, 2, {});
        mwpm_ = pm::Mwpm(pm::GraphFlooder(std::move(graph)));
        mwpm_.flooder.sync_negative_weight_observables_and_detection_events();

        // Where each edge's weight and observables live, in both directions (the graph never
        // changes shape again, so these pointers stay valid).
        auto& nodes = mwpm_.flooder.graph.nodes;
        slots_.resize(num_edges);
        for (size_t e = 0; e < num_edges; e++) {
            auto& nu = nodes[edge_u_[e]];
            pm::DetectorNode* nv = edge_v_[e] == SIZE_MAX ? nullptr : &nodes[edge_v_[e]];
            size_t iu = neighbor_index(nu, nv);
            Slot& slot = slots_[e];
            slot.weight_u = &nu.neighbor_weights[iu];
            slot.obs_u = &nu.neighbor_observables[iu];
            if (nv) {
                size_t iv = neighbor_index(*nv, &nu);
                slot.weight_v = &nv->neighbor_weights[iv];
                slot.obs_v = &nv->neighbor_observables[iv];
            }
        }
        edge_weight_.resize(num_edges);
        edge_obs_.assign(num_edges, 0);
        edge_merged_.assign(num_edges, 0);
        for (size_t c = 0; c < num_columns_; c++) {
            if (column_first_[c])
                edge_obs_[column_edge_[c]] = column_obs_[c];
            else
                edge_merged_[column_edge_[c]] = 1;
        }
        for (size_t e = 0; e < num_edges; e++) {  // fixed for edges of one column
            *slots_[e].obs_u = edge_obs_[e];
            if (slots_[e].obs_v)
                *slots_[e].obs_v = edge_obs_[e];
        }
        parity_.assign(num_detectors, 0);
        touched_.assign(num_detectors, 0);
    }

    size_t num_columns() const {
        return num_columns_;
    }
    size_t num_edges() const {
        return edge_u_.size();
    }

    // events: uint8 (shots, num_detectors); values: float32 or float64 (shots, width).
    // Column c's weight in shot s is clamp(sign * values[s, index[c]], -clip, clip).
    // Returns uint8 (shots, num_observables): the predicted observable flips, 0 or 1.
    template <typename Real>
    py::array_t<uint8_t> decode_batch(
        py::array_t<uint8_t, py::array::c_style | py::array::forcecast> events,
        py::array_t<Real, py::array::c_style> values,
        py::array_t<int64_t, py::array::c_style | py::array::forcecast> index,
        double sign,
        double clip) {
        if (events.ndim() != 2 || (size_t)events.shape(1) != num_detectors_)
            throw std::invalid_argument("events must be (shots, " + std::to_string(num_detectors_) + ")");
        if (values.ndim() != 2 || values.shape(0) != events.shape(0))
            throw std::invalid_argument("values must be (shots, width) with one row per shot");
        if (index.ndim() != 1 || (size_t)index.shape(0) != num_columns_)
            throw std::invalid_argument("index must give one position per column");
        auto idx = index.unchecked<1>();
        for (size_t c = 0; c < num_columns_; c++)
            if (idx(c) < 0 || idx(c) >= values.shape(1))
                throw std::invalid_argument("index points outside the values' rows");
        if (std::isnan(sign) || std::isnan(clip) || clip < 0)
            throw std::invalid_argument("sign and clip must be numbers, clip >= 0");
        size_t shots = (size_t)events.shape(0);
        py::array_t<uint8_t> out({shots, num_observables_});
        auto ev = events.unchecked<2>();
        auto v = values.template unchecked<2>();
        auto res = out.mutable_unchecked<2>();
        std::vector<uint64_t> dets;
        std::string error;
        {
            py::gil_scoped_release release;
            try {
                for (size_t s = 0; s < shots; s++) {
                    set_weights(v.data(s, 0), idx.data(0), sign, clip);
                    dets.clear();
                    for (size_t n = 0; n < num_detectors_; n++)
                        if (ev(s, n))
                            dets.push_back(n);
                    pm::obs_int mask = decode_one(dets);
                    for (size_t k = 0; k < num_observables_; k++)
                        res(s, k) = (uint8_t)(mask >> k & 1);
                }
            } catch (const std::exception& ex) {
                error = ex.what();
            }
        }
        if (!error.empty())
            throw std::invalid_argument(error);
        return out;
    }

   private:
    // std::round (half away from zero) of a scaled weight, |x| <= 2^24, without a libm call:
    // x - trunc(x) is exact there.
    static pm::signed_weight_int round_half_away(double x) {
        int64_t t = (int64_t)x;
        double frac = x - (double)t;
        return (pm::signed_weight_int)(t + (frac >= 0.5) - (frac <= -0.5));
    }

    static size_t neighbor_index(const pm::DetectorNode& node, const pm::DetectorNode* target) {
        for (size_t i = 0; i < node.neighbors.size(); i++)
            if (node.neighbors[i] == target)
                return i;
        throw std::logic_error("edge missing from the matching graph");
    }

    // PyMatching's UserGraph merge ("smallest-weight": a later parallel column replaces the edge
    // only with a strictly smaller weight), normalisation and discretisation, then the flooder's
    // weights and the negative-weight bookkeeping of MatchingGraph::add_edge / add_boundary_edge.
    template <typename Real>
    void set_weights(const Real* row, const int64_t* index, double sign, double clip) {
        size_t num_edges = edge_u_.size();
        for (size_t c = 0; c < num_columns_; c++) {
            double x = sign * (double)row[index[c]];
            if (std::isnan(x))
                throw std::invalid_argument("a matching weight is NaN");
            x = std::min(std::max(x, -clip), clip);
            size_t e = column_edge_[c];
            if (column_first_[c] || x < edge_weight_[e]) {
                edge_weight_[e] = x;
                edge_obs_[e] = column_obs_[c];
            }
        }
        double max_abs = 0;
        for (size_t e = 0; e < num_edges; e++)
            max_abs = std::max(max_abs, std::abs(edge_weight_[e]));
        bool fractional = false;  // PyMatching leaves all-integral weights unscaled (rarely: stops early)
        for (size_t e = 0; e < num_edges && !fractional; e++) {
            double x = edge_weight_[e];
            fractional = std::abs(x) < 4503599627370496.0 && x != (double)(int64_t)x;
        }
        if (max_abs > kMaxUserEdgeWeight)
            throw std::invalid_argument("a matching weight exceeds PyMatching's maximum absolute edge weight");
        double scale = fractional ? kMaxUserEdgeWeight / max_abs : 1.0;

        auto& flooder = mwpm_.flooder;
        pm::obs_int neg_obs = 0;
        pm::total_weight_int neg_sum = 0;
        neg_nodes_.clear();
        for (size_t e = 0; e < num_edges; e++) {
            pm::signed_weight_int wi = 2 * round_half_away(edge_weight_[e] * scale);
            pm::weight_int a = (pm::weight_int)std::abs(wi);
            pm::obs_int obs = edge_obs_[e];
            const Slot& slot = slots_[e];
            *slot.weight_u = a;
            if (slot.weight_v)
                *slot.weight_v = a;
            if (edge_merged_[e]) {  // which parallel column wins, and so the observables, varies by shot
                *slot.obs_u = obs;
                if (slot.obs_v)
                    *slot.obs_v = obs;
            }
            if (wi < 0) {
                size_t u = edge_u_[e], v = edge_v_[e];
                neg_obs ^= obs;
                neg_sum += wi;
                toggle(u);
                if (v != SIZE_MAX)
                    toggle(v);
            }
        }
        // The nodes toggled an odd number of times, sorted (PyMatching keeps them in a std::set).
        flooder.negative_weight_detection_events.clear();
        for (size_t n : neg_nodes_) {
            if (parity_[n])
                flooder.negative_weight_detection_events.push_back(n);
            parity_[n] = 0;
            touched_[n] = 0;
        }
        std::sort(flooder.negative_weight_detection_events.begin(), flooder.negative_weight_detection_events.end());
        flooder.negative_weight_observables.clear();
        for (size_t k = 0; k < num_observables_; k++)
            if (neg_obs >> k & 1)
                flooder.negative_weight_observables.push_back(k);
        flooder.negative_weight_obs_mask = neg_obs;
        flooder.negative_weight_sum = neg_sum;
    }

    void toggle(size_t n) {
        if (!touched_[n]) {
            touched_[n] = 1;
            neg_nodes_.push_back(n);
        }
        parity_[n] ^= 1;
    }

    // One shot through PyMatching's flooder and matcher, in the order of its
    // decode_detection_events (driver/mwpm_decoding.cc) for up to 64 observables.
    pm::obs_int decode_one(const std::vector<uint64_t>& dets) {
        auto& flooder = mwpm_.flooder;
        auto& nodes = flooder.graph.nodes;
        if (!flooder.queue.empty())
            throw std::logic_error("the flooder's queue is not empty");
        flooder.queue.cur_time = 0;
        const auto& neg = flooder.negative_weight_detection_events;
        if (neg.empty()) {
            for (auto d : dets)
                mwpm_.create_detection_event(&nodes[d]);
        } else {
            for (auto d : neg)
                nodes[d].radius_of_arrival = 1;
            for (auto d : dets) {
                if (!nodes[d].radius_of_arrival)
                    mwpm_.create_detection_event(&nodes[d]);
                else
                    nodes[d].radius_of_arrival = 0;
            }
            for (auto d : neg) {
                if (nodes[d].radius_of_arrival) {
                    nodes[d].radius_of_arrival = 0;
                    mwpm_.create_detection_event(&nodes[d]);
                }
            }
        }
        while (true) {
            auto event = flooder.run_until_next_mwpm_notification();
            if (event.event_type == pm::NO_EVENT)
                break;
            mwpm_.process_event(event);
        }
        if (mwpm_.node_arena.allocated.size() != mwpm_.node_arena.available.size()) {
            mwpm_.reset();
            throw std::invalid_argument(
                "no perfect matching exists: the events have odd parity on a component without a boundary");
        }
        pm::MatchingResult r;
        for (auto d : dets)
            if (nodes[d].region_that_arrived)
                r += mwpm_.shatter_blossom_and_extract_matches(nodes[d].region_that_arrived_top);
        for (auto d : neg)
            if (nodes[d].region_that_arrived)
                r += mwpm_.shatter_blossom_and_extract_matches(nodes[d].region_that_arrived_top);
        return r.obs_mask ^ flooder.negative_weight_obs_mask;
    }

    size_t num_detectors_;
    size_t num_observables_;
    size_t num_columns_ = 0;
    std::vector<size_t> column_edge_;
    std::vector<pm::obs_int> column_obs_;
    struct Slot {
        pm::weight_int* weight_u = nullptr;
        pm::obs_int* obs_u = nullptr;
        pm::weight_int* weight_v = nullptr;
        pm::obs_int* obs_v = nullptr;
    };
    std::vector<size_t> edge_u_, edge_v_;
    std::vector<Slot> slots_;
    std::vector<double> edge_weight_;
    std::vector<pm::obs_int> edge_obs_;
    std::vector<uint8_t> column_first_, edge_merged_, parity_, touched_;
    std::vector<size_t> neg_nodes_;
    pm::Mwpm mwpm_;
};

}  // namespace

PYBIND11_MODULE(_weighted_matching, m) {
    m.doc() = "Sparse blossom (PyMatching's core) on one graph with per-shot edge weights.";
    // The PyMatching release whose sources this module was compiled from (setup.py defines it).
    m.attr("PYMATCHING_VERSION") = QEC_PYMATCHING_VERSION;
    py::class_<WeightedMatcher>(m, "WeightedMatcher")
        .def(
            py::init<
                size_t,
                py::array_t<int64_t, py::array::c_style | py::array::forcecast>,
                py::array_t<int64_t, py::array::c_style | py::array::forcecast>,
                py::array_t<uint64_t, py::array::c_style | py::array::forcecast>,
                size_t>(),
            py::arg("num_detectors"),
            py::arg("col_u"),
            py::arg("col_v"),
            py::arg("col_obs"),
            py::arg("num_observables"))
        .def_property_readonly("num_columns", &WeightedMatcher::num_columns)
        .def_property_readonly("num_edges", &WeightedMatcher::num_edges)
        .def("decode_batch", &WeightedMatcher::decode_batch<float>, py::arg("events"), py::arg("values"),
             py::arg("index"), py::arg("sign"), py::arg("clip"))
        .def("decode_batch", &WeightedMatcher::decode_batch<double>, py::arg("events"), py::arg("values"),
             py::arg("index"), py::arg("sign"), py::arg("clip"));
}
