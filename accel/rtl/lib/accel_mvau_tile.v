// Tiled matrix-vector-activation unit for weights that live in DDR (issue 14): accel_mvau's
// stream interface, folding, multipliers and requantization, but the weights arrive on a stream
// (s_w) instead of a ROM, and each weight is used for a TILE of T input vectors before the next.
//
//   in:  vectors as accel_mvau (BEATS beats of IN_C codes; element (ky*K + kx)*IN_C + c); a
//        beat is read over CPB cycles before it is taken, so s_data must hold while s_valid
//        waits for s_ready (AXI4-Stream; every library block's output does)
//   s_w: weight words, PE*SIMD*W_BITS bits, in accel_mvau's ROM order and bit layout (word
//        nf*SF + sf holds w[nf*PE + pe][sf*SIMD + s] at bit (pe*SIMD + s)*W_BITS); the whole
//        set of NF*SF words is streamed once per tile (accel_axi_wread repeats the blob)
//   out: the tile's output vectors, pixel-major, OUT_C codes each (accel_mvau's m_data), after
//        the tile; m_last on the image's last vector. Biases from a ROM (BIAS_FILE, word nf).
//        NF = ceil(OUT_C/PE): as in accel_mvau, a PE need not divide OUT_C (the last fold's
//        extra rows have zero weights and bias; their codes are dropped at m_data). With
//        M_C = PE a beat is one fold's PE codes instead (NF beats a vector, the last fold's
//        extra rows included), as accel_mvau's M_C: for a conv read only by the global pool.
// A tile is T vectors, the image's last one NPIX mod T when T does not divide NPIX (NPIX = vectors
// per image). Order of work per tile: for nf < NF: for t < Tn: for sf < SF: one fold cycle.
//
// Buffers (all inferable simple-dual-port RAMs, double buffered):
//   tile buffer   MB = SIMD/G banks of 2 x T*SF words of G*IN_BITS (G = gcd(IN_C, SIMD);
//                 word t*SF + sf): fills with tile i+1 while tile i computes, a G-code chunk a
//                 cycle from the held beat (no vector register): one vector per N/G cycles
//   weight buffer 2 x SF words of PE*SIMD*W_BITS: loads fold nf+1 while fold nf computes
//   output buffer 2 x T*NF words of PE*OUT_BITS (word nf*T + t): tile i is emitted while tile
//                 i+1 computes; an output vector takes NF reads + 3 cycles
// Pipeline: issue -> RAM reads -> multiply-accumulate -> requantize into the output buffer; it
// never stalls (a tile starts only when its output bank is free; a fold only when its weights
// are loaded), so backpressure only delays issue.
//
// Cycles per tile in steady state (Tn vectors; no input gaps, output backpressure or DDR stalls):
//   max( NF*Tn*SF + 1 + W_wait,  Tn*N/G,  Tn*(NF + 3) )   (M_C = PE: Tn*4*NF for the last)
//   (N/G = SF when SIMD divides IN_C, BEATS when IN_C divides SIMD)
// where W_wait = cycles a fold waits for its SF weight words (0 when s_w delivers a word at
// least every Tn cycles: accel_axi_wread gives one per ceil(WW/64)+1 cycles at most); the ideal
// is NF*Tn*SF (+1: the cycle that claims the tile). Weight traffic: NF*SF words per tile.
//
// Multipliers: MUL/LANES exactly as accel_mvau (0 "dsp", 1 "pack", 2 "lut"); the generate block
// below is a copy of accel_mvau's (kept byte-identical there; factoring it out is left for later).
`default_nettype none
module accel_mvau_tile #(
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
    parameter ACC_SHIFT  = 0,
    parameter BIAS_SHIFT = 0,
    parameter OUT_SHIFT  = 0,
    parameter RELU       = 1,
    parameter OUT_BITS   = 8,
    parameter LO         = 0,
    parameter HI         = 255,
    parameter BIAS_FILE  = "bias.mem",
    parameter MUL        = 0,
    parameter LANES      = 1,
    parameter T          = 4,   // vectors per tile
    parameter NPIX       = 4,   // vectors per image
    parameter M_C        = OUT_C  // codes per output beat: OUT_C (a pixel), or PE (a fold)
) (
    input  wire                      clk,
    input  wire                      rst_n,
    input  wire [IN_C*IN_BITS-1:0]   s_data,
    input  wire                      s_pad,    // unused: padded positions already carry zeros
    input  wire                      s_last,
    input  wire                      s_valid,
    output wire                      s_ready,
    input  wire [PE*SIMD*W_BITS-1:0] s_w_data,
    input  wire                      s_w_valid,
    output wire                      s_w_ready,
    output wire [M_C*OUT_BITS-1:0]   m_data,
    output reg                       m_last,
    output reg                       m_valid,
    input  wire                      m_ready
);
    function integer gcd(input integer a, input integer b);
        integer d;
        begin
            gcd = 1;
            for (d = 2; d <= a; d = d + 1)
                if (a % d == 0 && b % d == 0) gcd = d;
        end
    endfunction
    localparam N  = BEATS * IN_C;
    localparam SF = N / SIMD;
    localparam NF = (OUT_C + PE - 1) / PE;
    localparam XW = IN_BITS + 1;
    localparam PW = XW + W_BITS;
    localparam DW = PW + $clog2(SIMD + 1);
    localparam WW = PE * SIMD * W_BITS;
    localparam S  = IN_BITS + W_BITS;
    localparam NFW = $clog2(NF + 1);
    localparam SFW = $clog2(SF + 1);
    localparam BTW = $clog2(BEATS + 1);
    localparam TW  = $clog2(T + 1);
    localparam PXW = $clog2(NPIX + 1);
    localparam TAW = $clog2(2 * T * SF);       // tile buffer address (2 banks)
    localparam OAW = $clog2(2 * T * NF + 1);   // output buffer address (2 banks)
    localparam WAW = $clog2(2 * SF);           // weight buffer address (2 banks)
    localparam XS  = SIMD * IN_BITS;
    localparam G   = gcd(IN_C, SIMD);              // codes per tile buffer chunk
    localparam CPB = IN_C / G;                     // chunks per beat: cycles to write one
    localparam MB  = SIMD / G;                     // tile buffer banks: chunks per fold
    localparam GB  = G * IN_BITS;
    localparam CJW = (CPB > 1) ? $clog2(CPB) : 1;
    localparam MBW = (MB > 1) ? $clog2(MB) : 1;

    generate
        if (MUL < 0 || MUL > 2 || LANES < 1 || (MUL != 1 && LANES != 1) ||
            (LANES - 1) * S + W_BITS + 1 > 25 || T < 1 || NPIX < 1) begin : g_bad_mul
            accel_mvau_tile_error_MUL_LANES_or_T_invalid u_error ();
        end
    endgenerate

    reg [TAW-1:0] ta;                // tile buffer word read next (compute, below)

    // ---------------- fill: input vectors -> tile buffer ----------------
    // No vector register: a beat is cut into CPB chunks of G = gcd(IN_C, SIMD) codes, one
    // written per cycle straight from s_data (held by the sender: s_ready only with the beat's
    // last chunk), chunk k of a vector into bank k % MB at word t*SF + k/MB. Fold sf is then
    // word t*SF + sf of all MB banks side by side: no read-side select, and only a CPB:1 mux
    // of IN_C codes on the write side (SIMD | IN_C: one bank, a mux; IN_C | SIMD: MB banks,
    // no mux).
    reg [TW-1:0] tlen [0:1];
    reg tlst [0:1];
    reg fb;                          // bank half being filled
    reg [TAW-1:0] fwa;               // its word address (t*SF + fold being filled)
    reg [BTW-1:0] beat;
    reg [CJW-1:0] wj;                // chunk within the beat
    reg [MBW-1:0] wb;                // bank of that chunk
    reg [TW-1:0] tp;                 // vector within the tile
    reg [PXW-1:0] pix;               // vector within the image
    reg [1:0] tfull;                 // half holds a complete tile
    wire wen = s_valid && !tfull[fb];                  // a chunk is written
    assign s_ready = !tfull[fb] && (wj == CPB - 1);    // not from s_valid: no path back
    wire push = s_valid && s_ready;                    // the beat is taken
    wire vdone = push && (beat == BEATS - 1);          // ... and it ends a vector
    wire tile_end = (tp == T - 1) || (pix == NPIX - 1);
    wire [GB-1:0] chunk;
    wire [XS-1:0] xrd;               // fold word at ta, all banks (stage 1 register)
    genvar j;
    generate
        if (CPB > 1) begin : g_cut
            accel_mux #(.N(CPB), .W(GB)) u_cut (.in(s_data), .sel(wj), .out(chunk));
        end else begin : g_whole
            assign chunk = s_data;
        end
        for (j = 0; j < MB; j = j + 1) begin : g_tbank
            reg [GB-1:0] mem [0:2*T*SF-1];
            reg [GB-1:0] q;
            always @(posedge clk) begin
                if (wen && wb == j) mem[fwa] <= chunk;
                q <= mem[ta];
            end
            assign xrd[j*GB +: GB] = q;
        end
    endgenerate
    always @(posedge clk) if (vdone && tile_end) begin
        tlen[fb] <= tp + 1'b1; tlst[fb] <= s_last;
    end
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            beat <= 0; wj <= 0; wb <= 0; fb <= 1'b0; fwa <= 0; tp <= 0; pix <= 0;
        end else begin
            if (wen) begin
                wj <= (wj == CPB - 1) ? 0 : wj + 1'b1;
                wb <= (wb == MB - 1) ? 0 : wb + 1'b1;
                if (wb == MB - 1) fwa <= fwa + 1'b1;   // a vector is whole words: no wrap
            end
            if (push) beat <= (beat == BEATS - 1) ? 0 : beat + 1'b1;
            if (vdone) begin
                pix <= (pix == NPIX - 1) ? 0 : pix + 1'b1;
                tp <= tile_end ? 0 : tp + 1'b1;
                if (tile_end) begin
                    fb <= ~fb;
                    fwa <= fb ? 0 : T * SF;
                end
            end
        end
    end

    // ---------------- weights: s_w -> weight buffer ----------------
    reg [WW-1:0] wram [0:2*SF-1];
    reg lb;                          // bank being loaded
    reg [SFW-1:0] lsf;
    reg [1:0] wfull;
    assign s_w_ready = !wfull[lb];
    wire wpush = s_w_valid && s_w_ready;
    wire [WAW-1:0] lwa = lb ? SF + lsf : lsf;
    always @(posedge clk) if (wpush) wram[lwa] <= s_w_data;

    // ---------------- compute: issue ----------------
    reg [PE*B_BITS-1:0] brom [0:NF-1];
    initial $readmemh(BIAS_FILE, brom);
    reg run, ctb, ob, cwb;
    reg [TW-1:0] tn;
    reg [NFW-1:0] nf;
    reg [TW-1:0] t;
    reg [SFW-1:0] sf;
    reg [TAW-1:0] tbase;
    reg [OAW-1:0] ofold;             // ob*T*NF + nf*T
    reg [1:0] ofull;                 // output bank holds a computed tile
    reg [TW-1:0] olen [0:1];
    reg olst [0:1];
    wire claim = !run && tfull[ctb] && !ofull[ob];
    wire issue = run && wfull[cwb];
    wire fold_end = (t == tn - 1) && (sf == SF - 1);
    wire tile_fin = fold_end && (nf == NF - 1);
    wire [WAW-1:0] wra = cwb ? SF + sf : sf;
    always @(posedge clk) if (claim) begin
        olen[ob] <= tlen[ctb]; olst[ob] <= tlst[ctb];
    end
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            run <= 1'b0; ctb <= 1'b0; ob <= 1'b0; cwb <= 1'b0; tn <= 0; nf <= 0; t <= 0;
            sf <= 0; ta <= 0; tbase <= 0; ofold <= 0;
        end else if (claim) begin
            run <= 1'b1; tn <= tlen[ctb]; nf <= 0; t <= 0; sf <= 0;
            ta <= ctb ? T * SF : 0; tbase <= ctb ? T * SF : 0;
            ofold <= ob ? T * NF : 0;
        end else if (issue) begin
            if (sf == SF - 1) begin
                sf <= 0;
                if (t == tn - 1) begin
                    t <= 0; ta <= tbase; ofold <= ofold + T; cwb <= ~cwb;
                    nf <= (nf == NF - 1) ? 0 : nf + 1'b1;
                end else begin
                    t <= t + 1'b1; ta <= ta + 1'b1;
                end
            end else begin
                sf <= sf + 1'b1; ta <= ta + 1'b1;
            end
            if (tile_fin) begin
                run <= 1'b0; ctb <= ~ctb; ob <= ~ob;
            end
        end
    end
    // bank flags: set and clear never hit the same bank in one cycle (a bank is filled only
    // while free and released only while full)
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            tfull <= 2'b00; wfull <= 2'b00; lb <= 1'b0; lsf <= 0;
        end else begin
            if (vdone && tile_end) tfull[fb] <= 1'b1;
            if (issue && tile_fin) tfull[ctb] <= 1'b0;
            if (wpush) begin
                lsf <= (lsf == SF - 1) ? 0 : lsf + 1'b1;
                if (lsf == SF - 1) begin
                    wfull[lb] <= 1'b1; lb <= ~lb;
                end
            end
            if (issue && fold_end) wfull[cwb] <= 1'b0;
        end
    end

    // The "lut" style's product (a copy of accel_mvau's function)
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
    function [63:0] lane_bits(input integer n, input integer step, input integer pos);
        integer k;
        begin
            lane_bits = 0;
            for (k = 0; k < n; k = k + 1) lane_bits = lane_bits | (64'd1 << (k*step + pos));
        end
    endfunction

    // ---------------- stage 1: buffer and weight reads ----------------
    wire ce = 1'b1;                  // accel_mvau's stall enable: this pipeline never stalls
    wire [XS-1:0] x1 = xrd;
    reg [WW-1:0] wq;
    reg v1, first1, lastsf1, fin1, ob1;
    reg [NFW-1:0] nf1;
    reg [OAW-1:0] oa1;
    always @(posedge clk) begin
        wq <= wram[wra];
        first1 <= (sf == 0); lastsf1 <= (sf == SF - 1); fin1 <= tile_fin; ob1 <= ob;
        nf1 <= nf; oa1 <= ofold + t;
    end
    always @(posedge clk or negedge rst_n)
        if (!rst_n) v1 <= 1'b0; else v1 <= issue;

    // ---------------- stage 2: PE dot products (DL cycles), accumulate ----------------

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
    // stage 1's side-band delayed with the products; the bias ROM read the cycle before
    localparam SB = OAW + NFW + 4;
    wire [(DL+1)*SB-1:0] sbl;           // stage 1's side-band k cycles later at k*SB
    wire [DL:0] vl;
    assign sbl[SB-1:0] = {first1, lastsf1, fin1, ob1, oa1, nf1};
    assign vl[0] = v1;
    genvar k, l, f;
    generate
        for (k = 1; k <= DL; k = k + 1) begin : g_sb
            reg [SB-1:0] q;
            reg v;
            always @(posedge clk) q <= sbl[(k-1)*SB +: SB];
            always @(posedge clk or negedge rst_n)
                if (!rst_n) v <= 1'b0; else v <= vl[k-1];
            assign sbl[k*SB +: SB] = q;
            assign vl[k] = v;
        end
    endgenerate
    wire [NFW-1:0] nfb = sbl[(DL-1)*SB +: NFW];
    wire vd, firstd, lastsfd, find, obd;
    wire [OAW-1:0] oad;
    wire [NFW-1:0] nfd;
    assign {firstd, lastsfd, find, obd, oad, nfd} = sbl[DL*SB +: SB];
    assign vd = vl[DL];
    reg [PE*B_BITS-1:0] bq;
    always @(posedge clk) bq <= brom[nfb];
    reg [PE*ACC_W-1:0] acc;
    reg v2, lastsf2, fin2, ob2;
    reg [OAW-1:0] oa2;
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
        if (vd) acc <= acc_next;
        lastsf2 <= lastsfd; fin2 <= find; ob2 <= obd; oa2 <= oad;
    end
    always @(posedge clk or negedge rst_n)
        if (!rst_n) v2 <= 1'b0; else v2 <= vd;

    // ---------------- stage 3: requantize into the output buffer ----------------
    wire [PE*OUT_BITS-1:0] rq;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_rq
            accel_requant #(.IN_W(ACC_W), .SHIFT(OUT_SHIFT), .RELU(RELU), .OUT_W(OUT_BITS),
                            .LO(LO), .HI(HI))
                u_rq (.acc(acc[p*ACC_W +: ACC_W]), .code(rq[p*OUT_BITS +: OUT_BITS]));
        end
    endgenerate
    reg [PE*OUT_BITS-1:0] oram [0:2*T*NF-1];
    wire done_fold = v2 && lastsf2;
    always @(posedge clk) if (done_fold) oram[oa2] <= rq;

    // ---------------- emit: output buffer -> output vectors ----------------
    // M_C = OUT_C: a pixel a beat; an output vector takes NF reads + 3 cycles. M_C = PE (a conv
    // read only by the global pool): each word is a beat, NF beats a vector, 4 cycles a beat
    // (start, read, register, handshake), no pixel-wide register.
    reg eb, ebusy, erd, rv;
    reg [TW-1:0] et;
    reg [NFW-1:0] enf, rnf;
    reg [OAW-1:0] ea;
    reg [PE*OUT_BITS-1:0] od;
    wire elast = (et == olen[eb] - 1);
    always @(posedge clk) od <= oram[ea];
    generate
        if (M_C != OUT_C && M_C != PE) begin : g_bad_mc
            accel_mvau_tile_error_M_C_invalid u_error ();
        end
        if (M_C == OUT_C) begin : g_pixel
            // The one pixel-wide register: the NF words shift in from the top (word nf ends at
            // nf: no per-fold write decode); a ragged last fold's extra codes drive nothing.
            reg [NF*PE*OUT_BITS-1:0] out_q;
            assign m_data = out_q[OUT_C*OUT_BITS-1:0];
            if (NF > 1) begin : g_oshift
                always @(posedge clk)
                    if (rv) out_q <= {od, out_q[NF*PE*OUT_BITS-1:PE*OUT_BITS]};
            end else begin : g_oone
                always @(posedge clk) if (rv) out_q <= od;
            end
            wire estart = ofull[eb] && !ebusy && !m_valid;
            always @(posedge clk)
                if (rv && rnf == NF - 1) m_last <= olst[eb] && elast;
            always @(posedge clk or negedge rst_n) begin
                if (!rst_n) begin
                    ofull <= 2'b00; eb <= 1'b0; ebusy <= 1'b0; erd <= 1'b0; rv <= 1'b0; et <= 0;
                    enf <= 0; rnf <= 0; ea <= 0; m_valid <= 1'b0;
                end else begin
                    if (done_fold && fin2) ofull[ob2] <= 1'b1;
                    rv <= erd; rnf <= enf;
                    if (estart) begin
                        ebusy <= 1'b1; erd <= 1'b1; enf <= 0; ea <= (eb ? T * NF : 0) + et;
                    end else if (erd) begin
                        ea <= ea + T;
                        enf <= enf + 1'b1;
                        if (enf == NF - 1) erd <= 1'b0;
                    end
                    if (rv && rnf == NF - 1) begin
                        m_valid <= 1'b1; ebusy <= 1'b0;
                    end else if (m_valid && m_ready) begin
                        m_valid <= 1'b0;
                        if (elast) begin
                            et <= 0; ofull[eb] <= 1'b0; eb <= ~eb;
                        end else begin
                            et <= et + 1'b1;
                        end
                    end
                end
            end
        end else begin : g_fold
            // ea walks word nf*T + t: +T to the vector's next fold, back (NF-1)*T - 1 to the
            // next vector's first, to the other bank's base after the tile's last beat.
            reg [PE*OUT_BITS-1:0] out_q;
            assign m_data = out_q;
            wire eend = (enf == NF - 1);
            always @(posedge clk) if (rv) out_q <= od;
            always @(posedge clk) if (rv) m_last <= olst[eb] && elast && eend;
            always @(posedge clk or negedge rst_n) begin
                if (!rst_n) begin
                    ofull <= 2'b00; eb <= 1'b0; ebusy <= 1'b0; erd <= 1'b0; rv <= 1'b0; et <= 0;
                    enf <= 0; rnf <= 0; ea <= 0; m_valid <= 1'b0;
                end else begin
                    if (done_fold && fin2) ofull[ob2] <= 1'b1;
                    rv <= erd; erd <= 1'b0;
                    if (ofull[eb] && !ebusy && !m_valid) begin
                        ebusy <= 1'b1; erd <= 1'b1;
                    end
                    if (rv) begin
                        m_valid <= 1'b1; ebusy <= 1'b0;
                    end else if (m_valid && m_ready) begin
                        m_valid <= 1'b0;
                        if (!eend) begin
                            enf <= enf + 1'b1; ea <= ea + T;
                        end else begin
                            enf <= 0;
                            if (elast) begin
                                et <= 0; ofull[eb] <= 1'b0; eb <= ~eb; ea <= eb ? 0 : T * NF;
                            end else begin
                                et <= et + 1'b1; ea <= ea - (NF - 1) * T + 1;
                            end
                        end
                    end
                end
            end
        end
    endgenerate
endmodule
`default_nettype wire
