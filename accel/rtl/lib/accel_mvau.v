// Matrix-vector-activation unit: one convolution (1x1 on pixels, KxK on the windows of an
// accel_swu) with requantization and ReLU. An input vector is BEATS beats of IN_C codes (a window
// position per beat; element (ky*K + kx)*IN_C + c). The vector is folded: SIMD inputs x PE
// outputs per cycle, SF = N/SIMD input folds for each of NF = OUT_C/PE output folds, so a vector
// takes SF*NF cycles on PE*SIMD multipliers. Weights come from a ROM (word nf*SF + sf holds
// w[nf*PE + pe][sf*SIMD + s] at bit (pe*SIMD + s)*W_BITS), biases from a ROM (word nf).
// Pipeline: fold issue -> ROM read / input slice -> multiply-accumulate -> requantize; a full
// output register stalls the whole pipeline (AXI4-Stream backpressure). The input is double
// buffered so the next vector arrives while this one computes.
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
    parameter BIAS_FILE   = "bias.mem"
) (
    input  wire                      clk,
    input  wire                      rst_n,
    input  wire [IN_C*IN_BITS-1:0]   s_data,
    input  wire                      s_pad,    // unused: padded positions already carry zeros
    input  wire                      s_last,
    input  wire                      s_valid,
    output wire                      s_ready,
    output reg  [OUT_C*OUT_BITS-1:0] m_data,
    output reg                       m_last,
    output reg                       m_valid,
    input  wire                      m_ready
);
    localparam N  = BEATS * IN_C;
    localparam SF = N / SIMD;
    localparam NF = OUT_C / PE;
    localparam XW = IN_BITS + 1;                           // input code, sign-extended
    localparam PW = XW + W_BITS;                           // one product
    localparam DW = PW + $clog2(SIMD + 1);                 // SIMD products summed
    localparam WW = PE * SIMD * W_BITS;
    localparam RW = (NF * SF > 1) ? $clog2(NF * SF) : 1;
    localparam BW = (NF > 1) ? $clog2(NF) : 1;
    localparam NFW = $clog2(NF + 1);        // counter widths
    localparam SFW = $clog2(SF + 1);
    localparam BTW = $clog2(BEATS + 1);

    // ---- input vector buffer and fold sequencer ----
    // 1x1 layers (BEATS == 1): the vector arrives in one beat straight into the compute buffer
    // (one buffer; the next vector waits one cycle after the last fold). Windowed layers: beats
    // shift into a second buffer while the compute buffer is in use (beat b ends at element
    // b*IN_C), so the window's K*K beats overlap the folds.
    reg [N*IN_BITS-1:0] cbuf;
    reg busy, c_last;
    reg [NFW-1:0] nf;
    reg [SFW-1:0] sf;
    reg [RW-1:0] waddr;                 // nf * SF + sf, counted (no multiplier)
    wire stall;
    wire fin = busy && (nf == NF - 1) && (sf == SF - 1);
    wire start, start_last;
    generate
        if (BEATS == 1) begin : g_single
            assign s_ready = !busy;
            assign start = s_valid && !busy;
            assign start_last = s_last;
            always @(posedge clk) if (start) cbuf <= s_data;
        end else begin : g_double
            reg [N*IN_BITS-1:0] inbuf;
            reg in_full, in_last;
            reg [BTW-1:0] beat;
            wire push = s_valid && !in_full;
            assign s_ready = !in_full;
            assign start = in_full && (!busy || fin) && !stall;
            assign start_last = in_last;
            always @(posedge clk) begin
                if (push) inbuf <= {s_data, inbuf[N*IN_BITS-1:IN_C*IN_BITS]};
                if (start) cbuf <= inbuf;
            end
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
        end
    endgenerate
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            busy <= 1'b0; c_last <= 1'b0; nf <= 0; sf <= 0; waddr <= 0;
        end else if (start) begin
            busy <= 1'b1; c_last <= start_last; nf <= 0; sf <= 0; waddr <= 0;
        end else if (busy && !stall) begin
            if (fin) busy <= 1'b0;
            waddr <= waddr + 1'b1;
            if (sf == SF - 1) begin
                sf <= 0; nf <= nf + 1;
            end else begin
                sf <= sf + 1;
            end
        end
    end
    // The SIMD slice of fold sf: an AND-OR mux over constant slices (an indexed part-select
    // would cost an index multiplier in synthesis).
    wire [SIMD*IN_BITS-1:0] sel [0:SF];
    assign sel[0] = {SIMD*IN_BITS{1'b0}};
    genvar f;
    generate
        for (f = 0; f < SF; f = f + 1) begin : g_slice
            assign sel[f + 1] = sel[f] |
                ({SIMD*IN_BITS{sf == f}} & cbuf[f*SIMD*IN_BITS +: SIMD*IN_BITS]);
        end
    endgenerate

    // ---- stage 1: weight/bias ROM read, input slice ----
    reg [WW-1:0]       wrom [0:NF*SF-1];
    reg [PE*B_BITS-1:0] brom [0:NF-1];
    initial begin
        $readmemh(WEIGHT_FILE, wrom);
        $readmemh(BIAS_FILE, brom);
    end
    reg [WW-1:0] wq;
    reg [PE*B_BITS-1:0] bq;
    reg [SIMD*IN_BITS-1:0] x1;
    reg v1, first1, lastsf1, lastv1, last1;
    reg [NFW-1:0] nf1;
    wire [BW-1:0] baddr = nf;
    always @(posedge clk) begin
        if (!stall) begin
            wq <= wrom[waddr];
            bq <= brom[baddr];
            x1 <= sel[SF];
            first1 <= (sf == 0); lastsf1 <= (sf == SF - 1); lastv1 <= fin;
            nf1 <= nf; last1 <= c_last;
        end
    end
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) v1 <= 1'b0;
        else if (!stall) v1 <= busy;
    end

    // ---- stage 2: PE dot products of SIMD lanes, accumulate ----
    reg [PE*ACC_W-1:0] acc;
    reg v2, lastsf2, lastv2, last2;
    reg [NFW-1:0] nf2;
    wire [PE*ACC_W-1:0] acc_next;
    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_pe
            // SIMD products summed by a chain of continuous assigns (no always-block loop:
            // event-driven simulators then only re-evaluate the lanes whose inputs changed).
            wire signed [DW-1:0] part [0:SIMD];
            assign part[0] = 0;
            genvar s;
            for (s = 0; s < SIMD; s = s + 1) begin : g_lane
                wire [IN_BITS-1:0] xc = x1[s*IN_BITS +: IN_BITS];
                wire signed [XW-1:0] xe = IN_SIGNED ? {xc[IN_BITS-1], xc} : {1'b0, xc};
                wire signed [W_BITS-1:0] we = wq[(p*SIMD + s)*W_BITS +: W_BITS];
                wire signed [PW-1:0] prod = xe * we;
                assign part[s + 1] = part[s] + prod;
            end
            wire signed [DW-1:0] dot = part[SIMD];
            wire signed [B_BITS-1:0] b = bq[p*B_BITS +: B_BITS];
            wire signed [ACC_W-1:0] bias_acc = $signed(b) <<< BIAS_SHIFT;
            wire signed [ACC_W-1:0] dot_acc = $signed(dot) <<< ACC_SHIFT;
            wire signed [ACC_W-1:0] prev = first1 ? bias_acc : $signed(acc[p*ACC_W +: ACC_W]);
            assign acc_next[p*ACC_W +: ACC_W] = prev + dot_acc;
        end
    endgenerate
    always @(posedge clk) begin
        if (!stall && v1) acc <= acc_next;
        if (!stall) begin
            lastsf2 <= lastsf1; lastv2 <= lastv1; nf2 <= nf1; last2 <= last1;
        end
    end
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) v2 <= 1'b0;
        else if (!stall) v2 <= v1;
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
    // Each fold's PE codes go straight into their slice of the output register; a fold that
    // finishes while the previous vector still waits there stalls the pipeline.
    wire done_fold = v2 && lastsf2;
    wire complete  = done_fold && lastv2;
    assign stall = done_fold && m_valid && !m_ready;
    integer j;
    always @(posedge clk)
        if (done_fold && !stall) begin
            for (j = 0; j < NF; j = j + 1)
                if (nf2 == j) m_data[j*PE*OUT_BITS +: PE*OUT_BITS] <= rq;
            if (complete) m_last <= last2;
        end
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) m_valid <= 1'b0;
        else if (complete && !stall) m_valid <= 1'b1;
        else if (m_ready) m_valid <= 1'b0;
    end
endmodule
`default_nettype wire
