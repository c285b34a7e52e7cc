// N:1 multiplexer of W-bit words as a binary tree on the select bits: synthesis packs each 4:1
// into a LUT6 and the levels above into MUXF7/MUXF8. An indexed part-select (in[sel*W +: W])
// would cost an index multiplier and a barrel shifter when W is not a power of two. Level l has
// ceil(N / 2^l) nodes; a select beyond N-1 picks some word (callers never ask for one).
`default_nettype none
module accel_mux #(
    parameter N  = 2,
    parameter W  = 1,
    parameter SB = (N > 1) ? $clog2(N) : 1
) (
    input  wire [N*W-1:0] in,
    input  wire [SB-1:0]  sel,
    output wire [W-1:0]   out
);
    genvar f, l;
    generate
        for (l = 0; l <= SB; l = l + 1) begin : g_lvl
            localparam NN = (N + (1 << l) - 1) >> l;
            wire [W-1:0] node [0:NN-1];
            for (f = 0; f < NN; f = f + 1) begin : g_node
                if (l == 0) begin : g_leaf
                    assign node[f] = in[f*W +: W];
                end else if (2 * f + 1 < ((N + (1 << (l - 1)) - 1) >> (l - 1))) begin : g_mux
                    assign node[f] = sel[l - 1] ? g_lvl[l - 1].node[2 * f + 1]
                                                : g_lvl[l - 1].node[2 * f];
                end else begin : g_pass
                    assign node[f] = g_lvl[l - 1].node[2 * f];
                end
            end
        end
    endgenerate
    assign out = g_lvl[SB].node[0];
endmodule
`default_nettype wire
