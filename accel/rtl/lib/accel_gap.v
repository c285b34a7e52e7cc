// Global average pool, exact (golden global_avgpool / arith.avg_requantize): per channel, the sum
// of the NPIX codes, then round_half_even(sum * 2^SH / NPIX) (SH < 0: sum / (NPIX << -SH)),
// saturated to [LO, HI].
//
// Sums: P channels per cycle, kept in a RAM of NB = ceil(C/P) words of P sums (block or LUT RAM,
// not C adders and a C-wide register), in two banks: one image is summed while the previous one
// is divided. A pixel arrives as one beat of C codes (IN_C = C: the beat is held on the input and
// read P codes per cycle, s_ready with the last slice) or as NB beats of P codes (IN_C = P: an
// accel_mvau's folds; the lanes of the last beat beyond C are ignored). Either way a pixel takes
// NB cycles: accel.rtl.netlist picks P so that is within the producer's cycles per pixel.
// Division: a bit-serial long division, one channel at a time, UW + 2 cycles a channel
// (C * (UW + 2) + 1 cycles per image, accel.rtl.fold.gap_cycles). A negative sum is made
// non-negative by adding DEN * 2^M (M >= 1 keeps the quotient's parity for the tie rule).
// Output: one beat of C codes per image (OUT_C = C), or one code per beat (OUT_C = 1: TLAST on
// the image's last channel; accel_pack then has one code a beat).
`default_nettype none
module accel_gap #(
    parameter C        = 10,
    parameter BITS     = 8,
    parameter SIGNED   = 1,
    parameter NPIX     = 9,
    parameter SH       = 0,    // out_frac - in_frac
    parameter OUT_BITS = 8,
    parameter LO       = -128,
    parameter HI       = 127,
    parameter P        = C,    // channels summed per cycle (1..C)
    parameter IN_C     = C,    // codes per input beat: C (a pixel) or P
    parameter OUT_C    = C     // codes per output beat: C (an image) or 1
) (
    input  wire                      clk,
    input  wire                      rst_n,
    input  wire [IN_C*BITS-1:0]      s_data,
    input  wire                      s_last,
    input  wire                      s_valid,
    output wire                      s_ready,
    output reg  [OUT_C*OUT_BITS-1:0] m_data,
    output reg                       m_last,
    output reg                       m_valid,
    input  wire                      m_ready
);
    localparam SW  = BITS + $clog2(NPIX + 1) + 1;        // signed sum width
    localparam LSH = (SH > 0) ? SH : 0;
    localparam DEN = (SH >= 0) ? NPIX : (NPIX << (-SH));
    localparam NW  = SW + LSH;                            // signed numerator width
    localparam M   = NW;                                  // offset 2^M * DEN > |numerator|
    localparam DB  = $clog2(DEN + 1);
    localparam UW  = NW + DB + 2;                         // unsigned offset numerator width
    localparam NB  = (C + P - 1) / P;                     // words (cycles) per pixel
    localparam BW  = (NB > 1) ? $clog2(NB) : 1;
    localparam LW  = (P > 1) ? $clog2(P) : 1;
    localparam CW  = (C > 1) ? $clog2(C) : 1;

    // Parameters outside the rules stop elaboration in every tool (a missing module).
    generate
        if (P < 1 || P > C || (IN_C != C && IN_C != P) || (OUT_C != C && OUT_C != 1))
        begin : g_bad
            accel_gap_error_P_IN_C_or_OUT_C_invalid u_error ();
        end
    endgenerate

    // ---- summing: stage 1 takes P codes (word wd of the pixel) and reads the word's sums ----
    wire [1:0] full;                   // per bank: summed, waiting for or in the division
    wire [1:0] lastb;                  // per bank: that image's TLAST
    reg ab;                            // the bank being summed
    reg [BW-1:0] wd;
    reg [$clog2(NPIX + 1)-1:0] pix;
    wire wend = (wd == NB - 1);
    wire iend = wend && (pix == NPIX - 1);
    wire take = s_valid && !full[ab];  // P codes are summed this cycle
    assign s_ready = !full[ab] && (IN_C == P || wend);
    wire [P*BITS-1:0] x;
    generate
        if (IN_C == P) begin : g_narrow
            assign x = s_data;
        end else begin : g_slice       // slice wd of the held pixel (zeros beyond C)
            wire [(NB*P+1)*BITS-1:0] xp = {{(NB*P - C + 1)*BITS{1'b0}}, s_data};
            accel_mux #(.N(NB), .W(P*BITS), .SB(BW)) u_slice (
                .in(xp[NB*P*BITS-1:0]), .sel(wd), .out(x));
        end
    endgenerate
    reg v1, b1, first1, end1, last1;
    reg [BW-1:0] w1;
    reg [P*BITS-1:0] x1;
    always @(posedge clk)
        if (take) begin
            x1 <= x; w1 <= wd; b1 <= ab; first1 <= (pix == 0); end1 <= iend; last1 <= s_last;
        end
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            v1 <= 1'b0; wd <= 0; pix <= 0; ab <= 1'b0;
        end else begin
            v1 <= take;
            if (take) begin  // (if/else, not ?: with an unsized 0: that makes 32-bit adders)
                if (wend) wd <= 0;
                else wd <= wd + 1'b1;
                if (iend) pix <= 0;
                else if (wend) pix <= pix + 1'b1;
                if (iend) ab <= !ab;
            end
        end
    end

    // ---- stage 2: add and write back (the first pixel starts from zero, nothing is cleared) ----
    wire [P*SW-1:0] cur, sum;
    genvar i, b;
    generate
        for (i = 0; i < P; i = i + 1) begin : g_add
            wire [BITS-1:0] xc = x1[i*BITS +: BITS];
            wire [SW-1:0] xe = SIGNED ? {{(SW-BITS){xc[BITS-1]}}, xc} : {{(SW-BITS){1'b0}}, xc};
            assign sum[i*SW +: SW] = (first1 ? {SW{1'b0}} : cur[i*SW +: SW]) + xe;
        end
    endgenerate

    // ---- the banks: one write port (stage 2), one synchronous read port (stage 1 while the
    // bank is summed, the divider while it is full). Consecutive reads of a bank are different
    // words when NB > 1, so a read never meets the write of the same word; NB = 1 is a register.
    reg db;                            // the bank being divided
    reg [CW-1:0] ch;                   // its channel
    wire dstore;                       // the channel's code goes out (the division below)
    reg [BW-1:0] dw;                   // its word
    wire dre;                          // the divider reads word dra
    wire [BW-1:0] dra;
    wire [2*P*SW-1:0] q;               // the banks' read data, bank 1 high
    generate
        for (b = 0; b < 2; b = b + 1) begin : g_bank
            // its flags (a register each: a write to full[b1] would cost yosys 32-bit index
            // arithmetic, and carry chains it leaves behind)
            reg f, l;
            assign full[b] = f;
            assign lastb[b] = l;
            always @(posedge clk or negedge rst_n)
                if (!rst_n) f <= 1'b0;
                else if (v1 && end1 && b1 == b) f <= 1'b1;
                else if (dstore && ch == C - 1 && db == b) f <= 1'b0;
            always @(posedge clk) if (v1 && end1 && b1 == b) l <= last1;
            if (NB == 1) begin : g_reg
                reg [P*SW-1:0] word;
                always @(posedge clk) if (v1 && b1 == b) word <= sum;
                assign q[b*P*SW +: P*SW] = word;
            end else begin : g_ram
                reg [P*SW-1:0] mem [0:NB-1];
                reg [P*SW-1:0] rd;
                wire ra = take && (ab == b);
                always @(posedge clk) begin
                    if (v1 && b1 == b) mem[w1] <= sum;
                    if (ra || (dre && db == b)) rd <= mem[ra ? wd : dra];
                end
                assign q[b*P*SW +: P*SW] = rd;
            end
        end
    endgenerate
    assign cur = b1 ? q[P*SW +: P*SW] : q[0 +: P*SW];
    // ---- division of bank db, channel ch = lane of word dw ----
    reg dbusy;
    reg [LW-1:0] lane;
    reg [$clog2(UW + 2):0] bitn;
    reg [UW-1:0] dvd, quo;
    reg [DB:0] rem;
    wire dstart = !dbusy && full[db];
    wire dload  = dbusy && (bitn == 0);
    wire dfin   = dbusy && (bitn == UW + 1);
    assign dstore = dfin && (!m_valid || m_ready);
    assign dre = dstart || (dload && lane == P - 1 && ch != C - 1);
    assign dra = dstart ? {BW{1'b0}} : dw + 1'b1;
    wire [P*SW-1:0] dq = db ? q[P*SW +: P*SW] : q[0 +: P*SW];
    // lane's sum; accel_mux trees here and for the slice: an indexed part-select with a stride
    // not a power of two costs yosys a multiplier and a barrel shifter
    wire signed [SW-1:0] sum_ch;
    accel_mux #(.N(P), .W(SW), .SB(LW)) u_pick (.in(dq), .sel(lane), .out(sum_ch));

    wire signed [UW-1:0] num    = $signed(sum_ch) <<< LSH;
    localparam [UW-1:0] OFFSET  = DEN << M;
    wire [UW-1:0] num_off = num + OFFSET;
    // long division step
    wire [DB:0]   rem_sh = {rem[DB-1:0], dvd[UW-1]};
    wire          ge     = rem_sh >= DEN;
    wire [DB:0]   rem_nx = ge ? rem_sh - DEN : rem_sh;
    wire [UW-1:0] quo_nx = {quo[UW-2:0], ge};
    // rounding of the finished channel: q = quo - 2^M, half-even on the remainder
    wire signed [UW+1:0] qt    = $signed({2'b00, quo}) - ($signed({{(UW+1){1'b0}}, 1'b1}) <<< M);
    wire [DB+1:0]        twice = {rem, 1'b0};
    wire up = (twice > DEN) || ((twice == DEN) && quo[0]);
    wire signed [UW+1:0] y = qt + $signed({1'b0, up});
    localparam signed [UW+1:0] LO_E = LO;
    localparam signed [UW+1:0] HI_E = HI;
    wire signed [UW+1:0] sat = (y < LO_E) ? LO_E : ((y > HI_E) ? HI_E : y);
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            dbusy <= 1'b0; db <= 1'b0; ch <= 0; lane <= 0; dw <= 0; bitn <= 0;
        end else if (dstart) begin
            dbusy <= 1'b1; ch <= 0; lane <= 0; dw <= 0; bitn <= 0;
        end else if (dload) begin
            bitn <= 1;
            if (lane == P - 1) begin
                lane <= 0; dw <= dw + 1'b1;
            end else begin
                lane <= lane + 1'b1;
            end
        end else if (dbusy && bitn <= UW) begin
            bitn <= bitn + 1'b1;
        end else if (dstore) begin
            bitn <= 0;
            if (ch == C - 1) begin
                dbusy <= 1'b0; db <= !db;
            end else begin
                ch <= ch + 1'b1;
            end
        end
    end
    always @(posedge clk)
        if (dload) begin                       // this channel's numerator
            dvd <= num_off; quo <= 0; rem <= 0;
        end else if (dbusy && bitn <= UW) begin  // UW division steps
            rem <= rem_nx; quo <= quo_nx; dvd <= {dvd[UW-2:0], 1'b0};
        end


    // ---- output: each rounded, saturated code as it is done ----
    generate
        if (OUT_C == 1) begin : g_one
            always @(posedge clk) if (dstore) m_data <= sat[OUT_BITS-1:0];
        end else begin : g_many              // codes shift in from the top
            always @(posedge clk)
                if (dstore) m_data <= {sat[OUT_BITS-1:0], m_data[OUT_C*OUT_BITS-1:OUT_BITS]};
        end
    endgenerate
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            m_valid <= 1'b0; m_last <= 1'b0;
        end else if (dstore) begin             // the register is free (empty or taken now)
            m_valid <= (OUT_C == 1) || (ch == C - 1);
            m_last <= lastb[db] && (ch == C - 1);
        end else if (m_ready) begin
            m_valid <= 1'b0;
        end
    end
endmodule
`default_nettype wire
