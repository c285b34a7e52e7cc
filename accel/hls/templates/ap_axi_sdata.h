#ifndef ACCEL_AP_AXI_SDATA_H_
#define ACCEL_AP_AXI_SDATA_H_

// g++ C-simulation stand-in for Vitis HLS's ap_axi_sdata.h, covering what accel_top uses: ap_axiu
// without TUSER/TID/TDEST. Only build_csim.sh puts csim/ on the include path; Vitis HLS uses its own.

#include "ap_int.h"

template <int D, int U, int TI, int TD> struct ap_axiu;

template <int D> struct ap_axiu<D, 0, 0, 0> {
    ap_uint<D> data;
    ap_uint<(D + 7) / 8> keep;
    ap_uint<(D + 7) / 8> strb;
    ap_uint<1> last;
};

#endif
