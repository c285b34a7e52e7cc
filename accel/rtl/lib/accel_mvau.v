// Matrix-vector-activation unit: one convolution (1x1 on pixels, KxK on the windows of an
// accel_swu) with requantization and ReLU. An input vector is BEATS beats of IN_C codes (a window
// position per beat; element (ky*K + kx)*IN_C + c). The vector is folded: SIMD inputs x PE
// outputs per cycle, SF = N/SIMD input folds for each of NF = ceil(OUT_C/PE) output folds, so a
// vector takes SF*NF cycles on PE*SIMD multipliers. PE need not divide OUT_C: the last fold's
// rows beyond OUT_C have zero weights and bias and their codes are dropped (a 64-channel layer
// can take PE 5: 13 folds). Weights come from a ROM (word nf*SF + sf holds
// w[nf*PE + pe][sf*SIMD + s] at bit (pe*SIMD + s)*W_BITS), biases from a ROM (word nf).
// Pipeline: fold issue -> ROM read / input slice -> SIMD sum (pipelined, DL cycles) ->
// accumulate -> requantize; a full output register stalls the whole pipeline (AXI4-Stream
// backpressure). The input is double
// buffered so the next vector arrives while this one computes.
//
// Multipliers (MUL; accel/rtl/mul.py has the lane rule and the DSP48E1 counts):
//   0 "dsp"  one product x*w per multiplier (a DSP48E1 each in yosys synth_xilinx);
//   1 "pack" all PE rows multiply the same input code x, so LANES consecutive PEs share one 25x18
//            multiply (below: the packed operand and the exact lane extraction);
//   2 "lut"  signed shift-add multipliers in the fabric (no multiplication operator: never a DSP).
// Every style gives the exact product for every code and weight.
`default_nettype none
module accel_mvau #(
    parameter BEATS      = 1,
    parameter IN_C       = 1,
    parameter IN_BITS    = 8,
    parameter IN_SIGNED  = 0,
    parameter OUT_C      = 8,
    parameter PE         = 1,
    parameter SIMD       = 1,
    parameter W_BITS     = 8,
    parameter B_BITS     = 32,
    parameter ACC_W      = 32,
    parameter ACC_SHIFT  = 0,   // product scale -> accumulator scale (left shift)
    parameter BIAS_SHIFT = 0,   // bias scale -> accumulator scale (left shift)
    parameter OUT_SHIFT  = 0,   // accumulator -> output: acc_frac - out_frac
    parameter RELU       = 1,
    parameter OUT_BITS   = 8,
    parameter LO         = 0,
    parameter HI         = 255,
    parameter WEIGHT_FILE = "weights.mem",
    parameter BIAS_FILE   = "bias.mem",
    parameter MUL        = 0,   // multiplier style: 0 dsp, 1 pack, 2 lut
    parameter LANES      = 1,   // "pack": PE rows per DSP48E1 (accel.rtl.mul.lanes); else 1
    parameter M_C        = OUT_C  // codes per output beat: OUT_C (a pixel), or PE (a fold)
) (
    input  wire                      clk,
    input  wire                      rst_n,
    input  wire [IN_C*IN_BITS-1:0]   s_data,
    input  wire                      s_pad,    // unused: padded positions already carry zeros
    input  wire                      s_last,
    input  wire                      s_valid,
    output wire                      s_ready,
    output wire [M_C*OUT_BITS-1:0]   m_data,
    output reg                       m_last,
    output reg                       m_valid,
    input  wire                      m_ready
);
    localparam N  = BEATS * IN_C;
    localparam SF = N / SIMD;
    localparam NF = (OUT_C + PE - 1) / PE;
    localparam XW = IN_BITS + 1;                           // input code, sign-extended
    localparam PW = XW + W_BITS;                           // one product
    localparam DW = PW + $clog2(SIMD + 1);                 // SIMD products summed
    localparam WW = PE * SIMD * W_BITS;
    localparam RW = (NF * SF > 1) ? $clog2(NF * SF) : 1;
    localparam BW = (NF > 1) ? $clog2(NF) : 1;
    localparam NFW = $clog2(NF + 1);        // counter widths
    localparam SFW = $clog2(SF + 1);
    localparam BTW = $clog2(BEATS + 1);
    localparam S   = IN_BITS + W_BITS;                     // one exact product (signed)

    // A LANES that does not fit the DSP48E1's 25-bit A operand (one bit to spare: the packed
    // weights' sum, accel.rtl.mul.lanes), or an unknown style, stops elaboration in every tool
    // (a missing module: yosys, Icarus and Verilator all reject it by name).
    generate
        if (MUL < 0 || MUL > 2 || LANES < 1 || (MUL != 1 && LANES != 1) ||
            (LANES - 1) * S + W_BITS + 1 > 25) begin : g_bad_mul
            accel_mvau_error_MUL_or_LANES_invalid u_error ();
        end
    endgenerate

    // ---- input vector buffer and fold sequencer ----
    // 1x1 layers (BEATS == 1): the vector arrives in one beat straight into the compute buffer
    // (one buffer; the next vector waits one cycle after the last fold). Windowed layers: beats
    // go into a second buffer while the compute buffer is in use, so the window's K*K beats
    // overlap the folds. Where SIMD and IN_C divide one another (BANKED), both buffers are the
    // two halves of a few RAM banks of fold-sized words (LUT RAM: its read mux is inside the
    // LUTs), else flip-flops with an AND-OR mux picking fold sf's SIMD codes.
    // (Several banks of SIMD codes are read asynchronously, the pick after them: LUT RAM, at
    // most 64 words, so BEATS <= 32.)
    localparam BANKED = (BEATS > 1) &&
        ((IN_C % SIMD == 0 && (IN_C == SIMD || BEATS <= 32)) ||
         (SIMD % IN_C == 0 && BEATS % (SIMD / IN_C) == 0));
    reg busy, c_last;
    reg [NFW-1:0] nf;
    reg [SFW-1:0] sf;
    reg [RW-1:0] waddr;                 // nf * SF + sf, counted (no multiplier)
    wire stall;
    wire fin = busy && (nf == NF - 1) && (sf == SF - 1);
    wire start, start_last;
    wire step = busy && !stall;         // fold sf is issued this cycle
    wire [SIMD*IN_BITS-1:0] xin;        // fold sf's SIMD codes (stage 1 registers them)
    wire [N*IN_BITS-1:0] vec;           // the flip-flop compute buffer (not BANKED)
    wire [SIMD*IN_BITS-1:0] sel_out;    // its fold sf slice (the mux tree below)
    generate
        if (BEATS > 1) begin : g_double
            reg in_full, in_last;
            reg [BTW-1:0] beat;
            wire push = s_valid && !in_full;
            assign s_ready = !in_full;
            assign start = in_full && (!busy || fin) && !stall;
            assign start_last = in_last;
            always @(posedge clk or negedge rst_n) begin
                if (!rst_n) begin
                    beat <= 0; in_full <= 1'b0; in_last <= 1'b0;
                end else if (push) begin
                    beat <= (beat == BEATS - 1) ? 0 : beat + 1;
                    if (beat == BEATS - 1) begin
                        in_full <= 1'b1; in_last <= s_last;
                    end
                end else if (start) begin
                    in_full <= 1'b0;
                end
            end
            if (BANKED && IN_C % SIMD == 0) begin : g_split
                // NB banks of SIMD codes: beat b's codes [j*SIMD, (j+1)*SIMD) go to bank j at
                // {half, b}; fold sf is bank sf % NB at {half, sf / NB} (counted, rb and rw).
                localparam NB = IN_C / SIMD;
                localparam IW = $clog2(BEATS);
                localparam BBW = (NB > 1) ? $clog2(NB) : 1;
                reg wh, rh;                              // halves written / read
                reg [BBW-1:0] rb;
                reg [IW-1:0] rw;
                wire [NB*SIMD*IN_BITS-1:0] q;
                assign vec = {N*IN_BITS{1'b0}};
                genvar j;
                for (j = 0; j < NB; j = j + 1) begin : g_bank
                    reg [SIMD*IN_BITS-1:0] mem [0:2*(1 << IW)-1];
                    always @(posedge clk)
                        if (push) mem[{wh, beat[IW-1:0]}] <= s_data[j*SIMD*IN_BITS +: SIMD*IN_BITS];
                    assign q[j*SIMD*IN_BITS +: SIMD*IN_BITS] = mem[{rh, rw}];
                end
                wire [SIMD*IN_BITS-1:0] pick [0:NB];   // bank rb's word (AND-OR, as sel)
                assign pick[0] = {SIMD*IN_BITS{1'b0}};
                for (j = 0; j < NB; j = j + 1) begin : g_pick
                    assign pick[j + 1] = pick[j] |
                        ({SIMD*IN_BITS{rb == j}} & q[j*SIMD*IN_BITS +: SIMD*IN_BITS]);
                end
                assign xin = pick[NB];
                always @(posedge clk or negedge rst_n)
                    if (!rst_n) begin
                        wh <= 1'b0; rh <= 1'b0; rb <= 0; rw <= 0;
                    end else begin
                        if (push && beat == BEATS - 1) wh <= !wh;
                        if (start) begin
                            rh <= !wh; rb <= 0; rw <= 0;
                        end else if (step) begin
                            if (sf == SF - 1) begin
                                rb <= 0; rw <= 0;
                            end else if (rb == NB - 1) begin
                                rb <= 0; rw <= rw + 1'b1;
                            end else begin
                                rb <= rb + 1'b1;
                            end
                        end
                    end
            end else if (BANKED) begin : g_join
                // MB banks of IN_C codes: beat b goes to bank b % MB at {half, b / MB}; fold
                // sf is all banks at {half, sf}, bank j's codes at element j*IN_C.
                localparam MB = SIMD / IN_C;
                localparam IW = (SF > 1) ? $clog2(SF) : 1;
                localparam BBW = (MB > 1) ? $clog2(MB) : 1;
                reg wh, rh;
                reg [BBW-1:0] wb;
                reg [IW-1:0] wi;
                assign vec = {N*IN_BITS{1'b0}};
                genvar j;
                for (j = 0; j < MB; j = j + 1) begin : g_bank
                    reg [IN_C*IN_BITS-1:0] mem [0:2*(1 << IW)-1];
                    always @(posedge clk)
                        if (push && wb == j) mem[{wh, wi}] <= s_data;
                    assign xin[j*IN_C*IN_BITS +: IN_C*IN_BITS] = mem[{rh, sf[IW-1:0]}];
                end
                always @(posedge clk or negedge rst_n)
                    if (!rst_n) begin
                        wh <= 1'b0; rh <= 1'b0; wb <= 0; wi <= 0;
                    end else begin
                        if (push) begin
                            if (beat == BEATS - 1) begin
                                wh <= !wh; wb <= 0; wi <= 0;
                            end else if (wb == MB - 1) begin
                                wb <= 0; wi <= wi + 1'b1;
                            end else begin
                                wb <= wb + 1'b1;
                            end
                        end
                        if (start) rh <= !wh;
                    end
            end else begin : g_regs
                reg [N*IN_BITS-1:0] inbuf, cbuf;
                always @(posedge clk) begin
                    if (push) inbuf <= {s_data, inbuf[N*IN_BITS-1:IN_C*IN_BITS]};
                    if (start) cbuf <= inbuf;
                end
                assign vec = cbuf;
                assign xin = sel_out;
            end
        end else begin : g_single
            reg [N*IN_BITS-1:0] cbuf;
            assign s_ready = !busy;
            assign start = s_valid && !busy;
            assign start_last = s_last;
            always @(posedge clk) if (start) cbuf <= s_data;
            assign vec = cbuf;
            assign xin = sel_out;
        end
    endgenerate
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            busy <= 1'b0; c_last <= 1'b0; nf <= 0; sf <= 0; waddr <= 0;
        end else if (start) begin
            busy <= 1'b1; c_last <= start_last; nf <= 0; sf <= 0; waddr <= 0;
        end else if (step) begin
            if (fin) busy <= 1'b0;
            waddr <= waddr + 1'b1;
            if (sf == SF - 1) begin
                sf <= 0; nf <= nf + 1;
            end else begin
                sf <= sf + 1;
            end
        end
    end
    // The SIMD slice of fold sf of the flip-flop vector: a binary tree of 2:1 muxes on sf's bits
    // (synthesis packs each 4:1 into a LUT6 and the levels above into MUXF7/MUXF8; an indexed
    // part-select would cost an index multiplier). Level l has ceil(SF / 2^l) nodes.
    localparam SFB = (SF > 1) ? $clog2(SF) : 1;
    genvar f, l;
    generate
        for (l = 0; l <= SFB; l = l + 1) begin : g_lvl
            localparam NN = (SF + (1 << l) - 1) >> l;
            wire [SIMD*IN_BITS-1:0] node [0:NN-1];
            for (f = 0; f < NN; f = f + 1) begin : g_node
                if (l == 0) begin : g_leaf
                    assign node[f] = vec[f*SIMD*IN_BITS +: SIMD*IN_BITS];
                end else if (2 * f + 1 < ((SF + (1 << (l - 1)) - 1) >> (l - 1))) begin : g_mux
                    assign node[f] = sf[l - 1] ? g_lvl[l - 1].node[2 * f + 1]
                                               : g_lvl[l - 1].node[2 * f];
                end else begin : g_pass
                    assign node[f] = g_lvl[l - 1].node[2 * f];
                end
            end
        end
    endgenerate
    assign sel_out = g_lvl[SFB].node[0];

    // sum_{i<n} 2^(i*step + pos): the lane constants of the "pack" style
    function [63:0] lane_bits(input integer n, input integer step, input integer pos);
        integer k;
        begin
            lane_bits = 0;
            for (k = 0; k < n; k = k + 1) lane_bits = lane_bits | (64'd1 << (k*step + pos));
        end
    endfunction

    // The "lut" style's product: x*w = sum_{j<W-1} w_j x 2^j - w_{W-1} x 2^(W-1), AND-gated
    // partial products summed in PW bits (exact: |x*w| < 2^(PW-1)); no multiplication operator,
    // so synthesis builds adders, never a DSP. A function, not a generate loop: one scope per
    // product keeps elaboration fast.
    function [PW-1:0] shift_add(input signed [XW-1:0] x, input [W_BITS-1:0] w);
        reg [PW-1:0] xs;
        integer j;
        begin
            xs = {{(PW - XW){x[XW-1]}}, x};
            shift_add = {PW{w[0]}} & xs;
            for (j = 1; j < W_BITS - 1; j = j + 1)
                shift_add = shift_add + ({PW{w[j]}} & (xs << j));
            shift_add = shift_add - ({PW{w[W_BITS-1]}} & (xs << (W_BITS - 1)));
        end
    endfunction

    // ---- stage 1: weight ROM read, input slice ----
    reg [WW-1:0]       wrom [0:NF*SF-1];
    reg [PE*B_BITS-1:0] brom [0:NF-1];
    initial begin
        $readmemh(WEIGHT_FILE, wrom);
        $readmemh(BIAS_FILE, brom);
    end
    wire ce = !stall;                   // every stage from here on freezes with a stalled fold
    reg [WW-1:0] wq;
    reg [SIMD*IN_BITS-1:0] x1;
    reg v1, first1, lastsf1, lastv1, last1;
    reg [NFW-1:0] nf1;
    always @(posedge clk) begin
        if (ce) begin
            wq <= wrom[waddr];
            x1 <= xin;
            first1 <= (sf == 0); lastsf1 <= (sf == SF - 1); lastv1 <= fin;
            nf1 <= nf; last1 <= c_last;
        end
    end
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) v1 <= 1'b0;
        else if (ce) v1 <= busy;
    end

    // ---- stage 2: PE dot products of SIMD lanes (DL cycles), accumulate ----
    // The sum is pipelined so that no cycle holds more than one multiply-add or two adder levels
    // (a cascade of unregistered DSP48E1s took ~1.5 ns a lane: accel/rtl/timing.py):
    //   "dsp"  a systolic chain, one DSP48E1 per PE and lane: lane s's inputs are delayed s
    //          cycles and its P register takes lane s-1's P (the PCIN cascade) plus its product,
    //          so the last lane's P is the dot product, DL = SIMD cycles after stage 1;
    //   "pack", "lut"  every product registered (the packed DSP48E1's P register, or after the
    //          fabric shift-add), then a binary adder tree registered at every second level and
    //          at its root: DL = 1 + ceil(log2(SIMD) / 2).
    // Latency only: a fold still enters every cycle (the cycle model has no pipeline depth).
    localparam LVL = (SIMD > 1) ? $clog2(SIMD) : 0;      // adder tree levels
    localparam DL  = (MUL == 0) ? SIMD : 1 + (LVL + 1) / 2;
    // stage 1's side-band, delayed with the products (valid apart: it is reset); the bias ROM is
    // read the cycle before the dot product arrives
    localparam SB = NFW + 4;
    wire [(DL+1)*SB-1:0] sbl;           // stage 1's side-band k cycles later at k*SB
    wire [DL:0] vl;
    assign sbl[SB-1:0] = {first1, lastsf1, lastv1, last1, nf1};
    assign vl[0] = v1;
    genvar k;
    generate
        for (k = 1; k <= DL; k = k + 1) begin : g_sb
            reg [SB-1:0] q;
            reg v;
            always @(posedge clk) if (ce) q <= sbl[(k-1)*SB +: SB];
            always @(posedge clk or negedge rst_n)
                if (!rst_n) v <= 1'b0; else if (ce) v <= vl[k-1];
            assign sbl[k*SB +: SB] = q;
            assign vl[k] = v;
        end
    endgenerate
    wire [NFW-1:0] nfb = sbl[(DL-1)*SB +: NFW];
    wire [BW-1:0] baddr = nfb;
    wire vd, firstd, lastsfd, lastvd, lastd;
    wire [NFW-1:0] nfd;
    assign {firstd, lastsfd, lastvd, lastd, nfd} = sbl[DL*SB +: SB];
    assign vd = vl[DL];
    reg [PE*B_BITS-1:0] bq;
    always @(posedge clk) if (ce) bq <= brom[baddr];
    reg [PE*ACC_W-1:0] acc;
    reg v2, lastsf2, lastv2, last2;
    reg [NFW-1:0] nf2;
    wire [PE*ACC_W-1:0] acc_next;
    wire [PE*DW-1:0] dots;              // the PE dot products, DL cycles after stage 1
    genvar p, s;
    generate
        if (MUL == 0) begin : g_chain
            wire [PE*DW-1:0] chain [0:SIMD];    // chain[s + 1]: lane s's P registers
            assign chain[0] = {PE*DW{1'b0}};
            for (s = 0; s < SIMD; s = s + 1) begin : g_lane
                wire [IN_BITS-1:0] xl [0:s];    // lane s's code and PE weights, 0..s cycles late
                wire [PE*W_BITS-1:0] wl [0:s];
                wire [PE*W_BITS-1:0] w0;
                assign xl[0] = x1[s*IN_BITS +: IN_BITS];
                assign wl[0] = w0;
                for (k = 1; k <= s; k = k + 1) begin : g_dly
                    reg [IN_BITS-1:0] xr;
                    reg [PE*W_BITS-1:0] wr;
                    always @(posedge clk) if (ce) begin
                        xr <= xl[k-1]; wr <= wl[k-1];
                    end
                    assign xl[k] = xr;
                    assign wl[k] = wr;
                end
                wire [IN_BITS-1:0] xc = xl[s];
                wire [PE*W_BITS-1:0] wd = wl[s];
                wire signed [XW-1:0] xe = IN_SIGNED ? {xc[IN_BITS-1], xc} : {1'b0, xc};
                wire [PE*DW-1:0] pl;
                for (p = 0; p < PE; p = p + 1) begin : g_pe
                    assign w0[p*W_BITS +: W_BITS] = wq[(p*SIMD + s)*W_BITS +: W_BITS];
                    wire signed [W_BITS-1:0] we = wd[p*W_BITS +: W_BITS];
                    wire signed [DW-1:0] pin = chain[s][p*DW +: DW];
                    reg signed [DW-1:0] pr;
                    always @(posedge clk) if (ce) pr <= pin + xe * we;
                    assign pl[p*DW +: DW] = pr;
                end
                assign chain[s + 1] = pl;
            end
            assign dots = chain[SIMD];
        end else begin : g_tree
            // prods[p*SIMD + s]: the product of PE p and input s, registered (an array, not one
            // wide vector: an event-driven simulator then wakes one reader per product)
            wire [PW-1:0] prods [0:PE*SIMD-1];
            if (MUL == 1) begin : g_pack
                // Packing, after FINN's finn-rtllib/mvu/mvu_8sx8u_dsp48.sv (two signed 8-bit weights in
                // one DSP48E1, the weight MSBs through the pre-adder (D - A), the activation on B).
                // FINN accumulates the packed lanes and resolves their carries at the end (canary
                // bits); here every product is cut out before the sum, so an offset suffices:
                //   A = sum_i w_i 2^(i*S)  (i < LG lanes of one group of PE rows), B = x,
                //   P = A*x + K,  K = sum_{i<LG-1} 2^(i*S + S-1).
                // Each lower lane's field then holds p_i + 2^(S-1), in [0, 2^S): no lane borrows from
                // the next (a plain A*x would: a negative lower product takes one from the lane
                // above), so lane i is its field with the top bit inverted and the top lane its
                // field as is. A comes from the pre-adder on wiring (yosys packs an add, not FINN's
                // D - A): each lower weight with its sign bit inverted (w + 2^(W-1)) plus the
                // constant -sum_i 2^(i*S + W-1); K is the post-adder. So one DSP48E1 per group and
                // input and one inverter per lower lane; the SIMD sums, which the "dsp" style gets
                // in the DSPs' post-adders, are fabric adders here (benchmarks/mvau_styles.py).
                localparam NG  = (PE + LANES - 1) / LANES;
                localparam OFS = 1;  // the carry correction (tests/test_rtl_mul.py removes it)
                genvar g, i;
                for (g = 0; g < NG; g = g + 1) begin : g_grp
                    localparam LG = (PE - g * LANES < LANES) ? PE - g * LANES : LANES;
                    localparam AW = (LG - 1) * S + W_BITS + (LG > 1);   // packed weights, signed
                    localparam QW = LG * S + 1;                          // the group's product
                    localparam [AW-1:0] C0 = -lane_bits(LG - 1, S, W_BITS - 1);
                    localparam [QW-1:0] K = OFS ? lane_bits(LG - 1, S, S - 1) : 0;
                    localparam [S-1:0] FLIP = OFS << (S - 1);
                    for (s = 0; s < SIMD; s = s + 1) begin : g_dsp
                        wire [IN_BITS-1:0] xc = x1[s*IN_BITS +: IN_BITS];
                        wire signed [XW-1:0] xe = IN_SIGNED ? {xc[IN_BITS-1], xc} : {1'b0, xc};
                        wire [AW-1:0] d;
                        for (i = 0; i < LG - 1; i = i + 1) begin : g_low
                            wire [W_BITS-1:0] w = wq[((g*LANES + i)*SIMD + s)*W_BITS +: W_BITS];
                            assign d[i*S +: S] = {{(S - W_BITS){1'b0}}, ~w[W_BITS-1], w[W_BITS-2:0]};
                        end
                        wire signed [W_BITS-1:0] wt = wq[((g*LANES + LG-1)*SIMD + s)*W_BITS +: W_BITS];
                        assign d[AW-1:(LG-1)*S] = wt;    // the top lane, sign-extended
                        wire signed [AW-1:0] a = $signed(d) + $signed(C0);
                        reg signed [QW-1:0] pp;          // the DSP48E1's P register
                        always @(posedge clk) if (ce) pp <= a * xe + $signed(K);
                        for (i = 0; i < LG; i = i + 1) begin : g_lane
                            wire [S-1:0] fld = pp[i*S +: S] ^ ((i < LG - 1) ? FLIP : {S{1'b0}});
                            assign prods[(g*LANES + i)*SIMD + s] = {fld[S-1], fld};
                        end
                    end
                end
            end else begin : g_lut
                for (p = 0; p < PE; p = p + 1) begin : g_pe
                    for (s = 0; s < SIMD; s = s + 1) begin : g_lane
                        wire [IN_BITS-1:0] xc = x1[s*IN_BITS +: IN_BITS];
                        wire signed [XW-1:0] xe = IN_SIGNED ? {xc[IN_BITS-1], xc} : {1'b0, xc};
                        wire signed [W_BITS-1:0] we = wq[(p*SIMD + s)*W_BITS +: W_BITS];
                        reg [PW-1:0] pr;
                        always @(posedge clk) if (ce) pr <= shift_add(xe, we);
                        assign prods[p*SIMD + s] = pr;
                    end
                end
            end
            for (p = 0; p < PE; p = p + 1) begin : g_pe
                // level l: ceil(SIMD / 2^l) sums of PW + l bits (exact), pairs of level l - 1
                // (an odd one out passes); registered at even levels and the root
                for (l = 0; l <= LVL; l = l + 1) begin : g_lvl
                    localparam NN = (SIMD + (1 << l) - 1) >> l;
                    wire [PW+l-1:0] node [0:NN-1];
                    for (f = 0; f < NN; f = f + 1) begin : g_node
                        if (l == 0) begin : g_leaf
                            assign node[f] = prods[p*SIMD + f];
                        end else begin : g_sum
                            wire signed [PW+l-2:0] a = g_lvl[l - 1].node[2 * f];
                            wire signed [PW+l-2:0] b;
                            if (2 * f + 1 < ((SIMD + (1 << (l - 1)) - 1) >> (l - 1))) begin : g_two
                                assign b = g_lvl[l - 1].node[2 * f + 1];
                            end else begin : g_one
                                assign b = 0;
                            end
                            wire [PW+l-1:0] sum = a + b;
                            if (l % 2 == 0 || l == LVL) begin : g_reg
                                reg [PW+l-1:0] q;
                                always @(posedge clk) if (ce) q <= sum;
                                assign node[f] = q;
                            end else begin : g_wire
                                assign node[f] = sum;
                            end
                        end
                    end
                end
                wire signed [PW+LVL-1:0] root = g_lvl[LVL].node[0];
                assign dots[p*DW +: DW] = root;   // sign-extended
            end
        end
        for (p = 0; p < PE; p = p + 1) begin : g_pe
            wire signed [DW-1:0] dot = dots[p*DW +: DW];
            wire signed [B_BITS-1:0] b = bq[p*B_BITS +: B_BITS];
            wire signed [ACC_W-1:0] bias_acc = $signed(b) <<< BIAS_SHIFT;
            wire signed [ACC_W-1:0] dot_acc = $signed(dot) <<< ACC_SHIFT;
            wire signed [ACC_W-1:0] prev = firstd ? bias_acc : $signed(acc[p*ACC_W +: ACC_W]);
            assign acc_next[p*ACC_W +: ACC_W] = prev + dot_acc;
        end
    endgenerate
    always @(posedge clk) begin
        if (ce && vd) acc <= acc_next;
        if (ce) begin
            lastsf2 <= lastsfd; lastv2 <= lastvd; nf2 <= nfd; last2 <= lastd;
        end
    end
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) v2 <= 1'b0;
        else if (ce) v2 <= vd;
    end

    // ---- stage 3: requantize PE results into the output vector ----
    wire [PE*OUT_BITS-1:0] rq;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_rq
            accel_requant #(.IN_W(ACC_W), .SHIFT(OUT_SHIFT), .RELU(RELU), .OUT_W(OUT_BITS),
                            .LO(LO), .HI(HI))
                u_rq (.acc(acc[p*ACC_W +: ACC_W]), .code(rq[p*OUT_BITS +: OUT_BITS]));
        end
    endgenerate
    // Each fold's PE codes go straight into their slice of the output register (M_C = OUT_C:
    // a pixel a beat), or are the beat (M_C = PE: NF beats a pixel, no OUT_C-wide register; the
    // last fold's rows beyond OUT_C carry the padded rows' codes). A fold that finishes while the
    // register still holds an untaken beat stalls the pipeline.
    wire done_fold = v2 && lastsf2;
    wire complete  = done_fold && lastv2;
    wire emit = (M_C == OUT_C) ? complete : done_fold;   // a beat is ready
    assign stall = done_fold && m_valid && !m_ready;
    generate
        if (M_C != OUT_C && M_C != PE) begin : g_bad_mc
            accel_mvau_error_M_C_invalid u_error ();
        end
        if (M_C == OUT_C) begin : g_pixel
            // (NF*PE codes: the padded rows' registers drive nothing, so synthesis removes them.)
            reg [NF*PE*OUT_BITS-1:0] out_q;
            assign m_data = out_q[OUT_C*OUT_BITS-1:0];
            integer j;
            always @(posedge clk)
                if (done_fold && !stall)
                    for (j = 0; j < NF; j = j + 1)
                        if (nf2 == j) out_q[j*PE*OUT_BITS +: PE*OUT_BITS] <= rq;
        end else begin : g_fold
            reg [PE*OUT_BITS-1:0] out_q;
            assign m_data = out_q;
            always @(posedge clk) if (done_fold && !stall) out_q <= rq;
        end
    endgenerate
    always @(posedge clk)
        if (emit && !stall) m_last <= last2 && lastv2;   // TLAST: the image's last beat
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) m_valid <= 1'b0;
        else if (emit && !stall) m_valid <= 1'b1;
        else if (m_ready) m_valid <= 1'b0;
    end
endmodule
`default_nettype wire
