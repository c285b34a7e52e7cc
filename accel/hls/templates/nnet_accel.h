#ifndef NNET_ACCEL_H_
#define NNET_ACCEL_H_

// accel's own io_stream layers, for what hls4ml 1.3 cannot do bit for bit (accel/hls/layers.py):
//  - max pooling with overlapping windows (SqueezeNet's 3x3 stride 2), ceil mode and padding:
//    hls4ml's pooling2d_cl asserts pool size == stride and no padding;
//  - global average pooling as the exact rational mean round_half_even(sum * 2^shift / N) for any
//    area N (accel.arith.avg_requantize): hls4ml divides in ap_fixed, which truncates the quotient
//    before the output cast rounds it.
// Channels-last streams, one pixel (n_chan values) per beat, like every hls4ml io_stream layer.

#include "hls_stream.h"
#include "nnet_common.h"

namespace nnet {

struct accel_maxpool_config {
    static const int in_height = 1;
    static const int in_width = 1;
    static const int n_chan = 1;
    static const int out_height = 1;
    static const int out_width = 1;
    static const int pool_height = 1;
    static const int pool_width = 1;
    static const int stride_height = 1;
    static const int stride_width = 1;
    static const int pad_top = 0;
    static const int pad_left = 0;
    static const int rows_in_flight = 1; // ceil(pool_height / stride_height): windows open at once
    static const int cols_in_flight = 1; // ceil(pool_width / stride_width)
    static const int primary_rows = 1;   // output rows up to the first one ending on the last row
    static const int primary_cols = 1;   // output columns up to the first one ending on the last column
};

// Max over each window of real pixels (padding and the ceil-mode overhang never win). Every input
// pixel updates the running maxima of the windows that hold it. Windows end on distinct rows and
// columns except those clipped at the bottom/right edge, so a "primary" window (row < primary_rows,
// column < primary_cols) is written when its last pixel arrives: at most one per input pixel, in
// raster order. The clipped rest follow in raster order: the right-edge columns after each row,
// the bottom-edge rows after the image.
template <class data_T, class res_T, typename CONFIG_T>
void accel_maxpool2d_cl(hls::stream<data_T> &data, hls::stream<res_T> &res) {
    typedef typename data_T::value_type value_t;
    static const int NR = CONFIG_T::rows_in_flight;
    // Output row oy keeps its running maxima in slot oy % NR while its window is open.
    value_t acc[NR][CONFIG_T::out_width][CONFIG_T::n_chan];
    #pragma HLS ARRAY_PARTITION variable=acc complete dim=1
    #pragma HLS ARRAY_PARTITION variable=acc complete dim=3

PoolHeight:
    for (int y = 0; y < CONFIG_T::in_height; y++) {
        const int oy_hi = (y + CONFIG_T::pad_top) / CONFIG_T::stride_height;
    PoolWidth:
        for (int x = 0; x < CONFIG_T::in_width; x++) {
            #pragma HLS PIPELINE II=1
            data_T in = data.read();
            const int ox_hi = (x + CONFIG_T::pad_left) / CONFIG_T::stride_width;
            res_T out;
            bool emit = false;
        PoolRows:
            for (int r = 0; r < CONFIG_T::rows_in_flight; r++) {
                #pragma HLS UNROLL
                const int oy = oy_hi - r;
                const int ys = oy * CONFIG_T::stride_height - CONFIG_T::pad_top;
                if (oy < 0 || oy >= CONFIG_T::out_height || y > ys + CONFIG_T::pool_height - 1)
                    continue;
                const int slot = oy % NR;
                const int y_first = ys > 0 ? ys : 0;
                const int y_last = ys + CONFIG_T::pool_height - 1 < CONFIG_T::in_height - 1
                                       ? ys + CONFIG_T::pool_height - 1
                                       : CONFIG_T::in_height - 1;
            PoolCols:
                for (int q = 0; q < CONFIG_T::cols_in_flight; q++) {
                    #pragma HLS UNROLL
                    const int ox = ox_hi - q;
                    const int xs = ox * CONFIG_T::stride_width - CONFIG_T::pad_left;
                    if (ox < 0 || ox >= CONFIG_T::out_width || x > xs + CONFIG_T::pool_width - 1)
                        continue;
                    const int x_first = xs > 0 ? xs : 0;
                    const int x_last = xs + CONFIG_T::pool_width - 1 < CONFIG_T::in_width - 1
                                           ? xs + CONFIG_T::pool_width - 1
                                           : CONFIG_T::in_width - 1;
                    const bool first = (y == y_first) && (x == x_first);
                    const bool done = (y == y_last) && (x == x_last) && oy < CONFIG_T::primary_rows &&
                                      ox < CONFIG_T::primary_cols;
                PoolChan:
                    for (int c = 0; c < CONFIG_T::n_chan; c++) {
                        #pragma HLS UNROLL
                        const value_t v = in[c];
                        const value_t m = (first || v > acc[slot][ox][c]) ? v : acc[slot][ox][c];
                        acc[slot][ox][c] = m;
                        if (done)
                            out[c] = m;
                    }
                    emit = emit || done;
                }
            }
            if (emit)
                res.write(out);
        }
        if (CONFIG_T::primary_cols < CONFIG_T::out_width) {
        PoolFlushCols: // the primary row that ended on this input row: its right-edge windows
            for (int r = 0; r < CONFIG_T::rows_in_flight; r++) {
                const int oy = oy_hi - r;
                const int ys = oy * CONFIG_T::stride_height - CONFIG_T::pad_top;
                const int y_last = ys + CONFIG_T::pool_height - 1 < CONFIG_T::in_height - 1
                                       ? ys + CONFIG_T::pool_height - 1
                                       : CONFIG_T::in_height - 1;
                if (oy < 0 || oy >= CONFIG_T::primary_rows || y != y_last)
                    continue;
                for (int ox = CONFIG_T::primary_cols; ox < CONFIG_T::out_width; ox++) {
                    #pragma HLS PIPELINE II=1
                    res_T out;
                    for (int c = 0; c < CONFIG_T::n_chan; c++) {
                        #pragma HLS UNROLL
                        out[c] = acc[oy % NR][ox][c];
                    }
                    res.write(out);
                }
            }
        }
    }
PoolFlushRows: // the bottom-edge rows, all ending on the last input row
    for (int oy = CONFIG_T::primary_rows; oy < CONFIG_T::out_height; oy++) {
        for (int ox = 0; ox < CONFIG_T::out_width; ox++) {
            #pragma HLS PIPELINE II=1
            res_T out;
            for (int c = 0; c < CONFIG_T::n_chan; c++) {
                #pragma HLS UNROLL
                out[c] = acc[oy % NR][ox][c];
            }
            res.write(out);
        }
    }
}

struct accel_gap_config {
    static const int in_height = 1;
    static const int in_width = 1;
    static const int n_chan = 1;
    static const int in_bits = 8;   // width of an input code
    static const int out_bits = 8;  // width of an output code
    static const int num_shift = 0; // max(out_frac - in_frac, 0): numerator = sum << num_shift
    static const long long den = 1; // (in_height * in_width) << max(in_frac - out_frac, 0)
    static const long long out_min = -128;
    static const long long out_max = 127;
    typedef ap_int<8> in_code_t;    // the input's codes (ap_uint for an unsigned input)
    typedef ap_int<16> sum_t;       // exact sum of in_height * in_width codes
    typedef ap_int<24> num_t;       // sum << num_shift, 2 * remainder and den without overflow
};

// Exact integer mean per channel: q = floor(num / den), then round half to even on the remainder,
// then saturate to the output code range. The codes are the bits of the ap_fixed values.
template <class data_T, class res_T, typename CONFIG_T>
void accel_global_avgpool2d_cl(hls::stream<data_T> &data, hls::stream<res_T> &res) {
    typename CONFIG_T::sum_t sum[CONFIG_T::n_chan];
    #pragma HLS ARRAY_PARTITION variable=sum complete
GapInit:
    for (int c = 0; c < CONFIG_T::n_chan; c++) {
        #pragma HLS UNROLL
        sum[c] = 0;
    }
GapSum:
    for (int i = 0; i < CONFIG_T::in_height * CONFIG_T::in_width; i++) {
        #pragma HLS PIPELINE II=1
        data_T in = data.read();
    GapSumChan:
        for (int c = 0; c < CONFIG_T::n_chan; c++) {
            #pragma HLS UNROLL
            typename CONFIG_T::in_code_t code;
            code.range(CONFIG_T::in_bits - 1, 0) = in[c].range(CONFIG_T::in_bits - 1, 0);
            sum[c] += code;
        }
    }
    res_T out;
    PRAGMA_DATA_PACK(out)
GapDivide:
    for (int c = 0; c < CONFIG_T::n_chan; c++) {
        #pragma HLS PIPELINE II=1
        typename CONFIG_T::num_t num = sum[c];
        num <<= CONFIG_T::num_shift;
        const typename CONFIG_T::num_t den = CONFIG_T::den;
        typename CONFIG_T::num_t q = num / den; // C++ truncates toward zero: make it a floor
        typename CONFIG_T::num_t r = num - q * den;
        if (r < 0) {
            q -= 1;
            r += den;
        }
        const typename CONFIG_T::num_t twice = r * 2;
        if (twice > den || (twice == den && q[0] == 1))
            q += 1;
        if (q < CONFIG_T::out_min)
            q = CONFIG_T::out_min;
        if (q > CONFIG_T::out_max)
            q = CONFIG_T::out_max;
        out[c].range(CONFIG_T::out_bits - 1, 0) = q.range(CONFIG_T::out_bits - 1, 0);
    }
    res.write(out);
}

} // namespace nnet

#endif
